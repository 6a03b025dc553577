import Stage
import Logging
import Scoring
import TensorCore

/// The rows one training uses, read from the history: for a per-key model the key's newest rows within
/// `train_hours`; for a model shared by a pipeline every key's, as separate segments (windows never span
/// two keys). Missing values are filled by the daemon's missing-value policy, so the model trains on what
/// it will score.
struct TrainingData {
    var tensor: Tensor
    var timestamps: [Int64]
    var segments: [Int]?
    var rows: Int { timestamps.count }
    var features: Int

    static func load(history: HistoryStore, ref: ModelID, target: PointRouter.Target, maxRows: Int,
                     missing: AEFlowConfig.Windows.MissingPolicy) throws(HistoryError) -> TrainingData {
        let conf = target.pipeline.numalogicConf
        let span = Int64(conf.trainer.trainHours * 3_600_000)
        let f = target.pipeline.metrics.count
        let series: [HistoryStore.Series]
        if target.pipeline.modelScope == .pipeline {
            series = try history.allSeries(pipeline: ref.pipelineID, spanMs: span, limit: maxRows)
        } else {
            series = try history.series(pipeline: ref.pipelineID, key: ref.key, spanMs: span, limit: maxRows).map { [$0] } ?? []
        }
        var values: [Float] = []
        var timestamps: [Int64] = []
        var segments: [Int] = []
        for s in series where s.features == f && s.count > 0 {
            values += fill(s.values, features: f, policy: missing)
            timestamps += s.timestamps
            segments.append(s.count)
        }
        return TrainingData(tensor: Tensor(shape: [timestamps.count, f], scalars: values), timestamps: timestamps,
                            segments: target.pipeline.modelScope == .pipeline ? segments : nil, features: f)
    }

    /// NaN (a value the point did not carry) becomes the previous row's value (`previous`, zero before the
    /// first) or zero (`zero`), as the daemon's windows do.
    static func fill(_ values: [Float], features f: Int, policy: AEFlowConfig.Windows.MissingPolicy) -> [Float] {
        var out = values
        var last = [Float](repeating: 0, count: f)
        for i in 0..<(f > 0 ? out.count / f : 0) {
            for c in 0..<f {
                let v = out[i * f + c]
                if v.isNaN { out[i * f + c] = policy == .previous ? last[c] : 0 } else { last[c] = v }
            }
        }
        return out
    }
}

/// The gate a new version passes before it is published: every weight and statistic finite, and its mean
/// reconstruction error on the newest training windows no worse than `maxLossRatio` times the live
/// version's error on the same windows.
struct Validation {
    var maxLossRatio: Double
    var windows = 2048

    func check(_ result: PipelineTrainer.Result, against store: CheckpointStore, ref: ModelID, data: TrainingData,
               logger: Logger) throws(TrainingError) {
        let c = result.checkpoint
        for name in c.modelState.keys {
            if case .float(let t)? = c.modelState[name], !t.isFinite { throw TrainingError(.validation, "weight \(name) is not finite") }
        }
        for (i, stats) in c.preprocessStats.enumerated() {
            for (name, t) in stats where !t.isFinite { throw TrainingError(.validation, "preprocess[\(i)] \(name) is not finite") }
        }
        for (name, t) in c.thresholdStats where !t.isFinite { throw TrainingError(.validation, "threshold \(name) is not finite") }
        guard let live = store.latest(pipeline: ref.pipelineID, key: ref.key) else { return }
        let previous: ScoringPipeline
        do { previous = try Checkpoint.load(path: live.path).pipeline } catch {
            logger.warning("live version unreadable; validating the new one without it", metadata: ["path": "\(live.path)", "error": "\(error)"])
            return
        }
        let l = c.seqLen, f = data.features
        guard previous.seqLen == l, data.rows >= l else { return }
        // The newest windows (of the last segment for a shared model).
        let last = data.segments?.last ?? data.rows
        let first = data.rows - last
        let n = min(windows, last - l + 1)
        guard n > 0 else { return }
        let scalars = data.tensor.scalars
        var buf = [Float]()
        buf.reserveCapacity(n * l * f)
        for w in (last - l + 1 - n)..<(last - l + 1) {
            buf += scalars[((first + w) * f)..<((first + w + l) * f)]
        }
        let raw = Tensor(shape: [n, l, f], scalars: buf)
        let newLoss = Double(result.pipeline.errors(raw).mean().scalar)
        let oldLoss = Double(previous.errors(raw).mean().scalar)
        guard newLoss.isFinite else { throw TrainingError(.validation, "the new version's loss is not finite") }
        if oldLoss.isFinite, newLoss > maxLossRatio * oldLoss + 1e-12 {
            throw TrainingError(.validation, "loss \(newLoss) exceeds \(maxLossRatio) × the live version \(live.version)'s \(oldLoss) on the same windows")
        }
    }
}
