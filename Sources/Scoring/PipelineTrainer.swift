import Autoencoders
import Autograd
import NN
import TensorCore
import Training
import SystemCalls

/// numalogic's training recipe (reference §3) producing a checkpoint:
/// trainer transforms (training only) → preprocess `fit_transform` → windows → model training →
/// element-wise errors of every window → threshold fit. AEFlow fits the threshold on the same per-point
/// errors it scores (numalogic fits on window means), and records each feature's error mean and std.
public struct PipelineTrainer {
    public var conf: NumalogicConf
    public var metrics: [String]
    public var pipelineID: String
    public var key: [String]
    public var callbacks: [any TrainerCallback]

    public init(conf: NumalogicConf, metrics: [String], pipelineID: String = "default", key: [String] = [],
                callbacks: [any TrainerCallback] = []) {
        (self.conf, self.metrics, self.pipelineID, self.key, self.callbacks) = (conf, metrics, pipelineID, key, callbacks)
    }

    public struct Result: Sendable {
        public var checkpoint: Checkpoint
        public var pipeline: ScoringPipeline
        public var summary: TrainingSummary
        /// Rows dropped because a value was NaN or infinite.
        public var droppedRows: Int
    }

    /// Trains on raw rows `(N, F)` (`timestamps` in epoch ms, optional, for provenance). `segments`, when
    /// given, are the row counts of several series laid end to end (a model shared by many keys): windows
    /// never span two of them.
    public func train(_ raw: Tensor, timestamps: [Int64]? = nil, segments: [Int]? = nil, version: Int = 1, now: Int64) throws(PipelineTrainingError) -> Result {
        let start = MonotonicClock.now()
        guard raw.rank == 2, raw.shape[1] == metrics.count else {
            throw .data("expected (rows, \(metrics.count)) data for metrics \(metrics), got \(raw.shape)")
        }
        // Rows with a non-finite value are dropped (and counted) rather than zero-filled as numalogic does.
        let f = metrics.count
        let values = raw.scalars
        let keep = (0..<raw.shape[0]).filter { r in (0..<f).allSatisfy { values[r * f + $0].isFinite } }
        let dropped = raw.shape[0] - keep.count
        var keptSegments: [Int]?
        if let segments {
            guard segments.reduce(0, +) == raw.shape[0] else { throw .data("segments \(segments) do not add up to \(raw.shape[0]) rows") }
            guard conf.trainer.valSplitRatio == nil else { throw .config("trainer.val_split_ratio is not supported for a model shared by several keys") }
            var bounds: [Int] = []
            var acc = 0
            for n in segments { acc += n; bounds.append(acc) }
            var counts = [Int](repeating: 0, count: segments.count)
            var s = 0
            for r in keep {
                while r >= bounds[s] { s += 1 }
                counts[s] += 1
            }
            keptSegments = counts
        }
        var x = Tensor(shape: [keep.count, f], scalars: keep.flatMap { r in values[(r * f)..<(r * f + f)] })
        guard keep.count >= conf.trainer.minTrainSize else {
            throw .insufficientData(rows: keep.count, needed: conf.trainer.minTrainSize)
        }
        do {
            for (i, spec) in conf.trainer.transforms.enumerated() {
                var t = try ComponentFactory.preprocess(spec, path: "trainer.transforms[\(i)]")
                x = try t.fitTransform(x)
            }
            var fitted: [any PreprocessTransform] = []
            for (i, spec) in conf.preprocess.enumerated() {
                var t = try ComponentFactory.preprocess(spec, path: "preprocess[\(i)]")
                x = try t.fitTransform(x)
                fitted.append(t)
            }
            guard x.isFinite else { throw PipelineTrainingError.data("preprocessing produced NaN or infinite values") }
            var rng = RandomGenerator(seed: conf.trainer.seed ?? 0x5EED)
            let model = try ModelFactory.make(conf.model, using: &rng)
            guard model.nFeatures == f else {
                throw PipelineTrainingError.data("the model takes \(model.nFeatures) features but \(f) metrics are configured")
            }
            let trainer = AutoencoderTrainer(config: conf.trainer.trainerConfig, callbacks: callbacks)
            let summary: TrainingSummary
            let all = try keptSegments.map { try StreamingDataset(x, seqLen: model.seqLen, stride: conf.trainer.dsStride, segments: $0) }
                ?? StreamingDataset(x, seqLen: model.seqLen, stride: conf.trainer.dsStride)
            if let ratio = conf.trainer.valSplitRatio {
                let n = x.shape[0], valRows = Int(Double(n) * ratio)
                guard valRows >= model.seqLen, n - valRows >= model.seqLen else {
                    throw PipelineTrainingError.insufficientData(rows: n, needed: 2 * model.seqLen)
                }
                summary = try trainer.fit(model, train: try StreamingDataset(x.slice(axis: 0, 0..<(n - valRows)), seqLen: model.seqLen, stride: conf.trainer.dsStride),
                                          validation: try StreamingDataset(x.slice(axis: 0, (n - valRows)..<n), seqLen: model.seqLen))
            } else {
                summary = try trainer.fit(model, train: all)
            }
            let errors = trainer.predict(model, all, unbatch: false)            // (n, L, F)
            let perPoint = errors.reshaped([errors.shape[0] * errors.shape[1], f])
            var threshold = try ComponentFactory.threshold(conf.threshold, path: "threshold")
            try threshold.fit(perPoint)
            var scoreStats = ScoreStats()
            scoreStats.errorMean = perPoint.mean(alongAxes: [0]).scalars
            scoreStats.errorStd = perPoint.variance(alongAxes: [0]).sqrt().scalars
            // Absolute residuals of each window's newest row (what the likelihood mode scores) and the raw rows' range.
            var residuals: [Float] = []
            residuals.reserveCapacity(all.count * f)
            model.eval()
            for indices in AutoencoderTrainer.batches(Array(0..<all.count), size: 1024) {
                let batch = all.batch(indices)
                let recon = withNoGrad { model.forward(Variable(batch)).reconstruction.value }
                let (b, l) = (batch.shape[0], batch.shape[1])
                batch.withUnsafeBufferPointer { xp in
                    recon.withUnsafeBufferPointer { yp in
                        for i in 0..<b { for c in 0..<f { residuals.append(abs(xp[(i * l + l - 1) * f + c] - yp[(i * l + l - 1) * f + c])) } }
                    }
                }
            }
            let r = Tensor(shape: [residuals.count / f, f], scalars: residuals)
            scoreStats.residualMean = r.mean(alongAxes: [0]).scalars
            scoreStats.residualStd = r.variance(alongAxes: [0]).sqrt().scalars
            let rawKept = Tensor(shape: [keep.count, f], scalars: keep.flatMap { r in values[(r * f)..<(r * f + f)] })
            let q = Double(conf.score.range?.quantile ?? 0)
            let columns = (0..<f).map { c in (0..<keep.count).map { Double(rawKept[$0, c]) } }
            scoreStats.dataMin = columns.map { Float(ColumnStats.percentile($0, 100 * q)) }
            scoreStats.dataMax = columns.map { Float(ColumnStats.percentile($0, 100 * (1 - q))) }
            scoreStats.dataMean = rawKept.mean(alongAxes: [0]).scalars
            var train = JSONObject([
                ("rows", .int(Int64(keep.count))), ("dropped_rows", .int(Int64(dropped))), ("windows", .int(Int64(all.count))),
                ("epochs", .int(Int64(summary.epochs.count))), ("train_loss", .double(Double(summary.finalTrainLoss))),
                ("val_loss", summary.lastValLoss.map { .double(Double($0)) } ?? .null),
                ("stopped_early", .bool(summary.stoppedEarly)),
                ("seconds", .double(MonotonicClock.now() - start)),
            ])
            if let ts = timestamps, let first = keep.first.map({ ts[$0] }), let last = keep.last.map({ ts[$0] }) {
                train["first_timestamp"] = .int(first)
                train["last_timestamp"] = .int(last)
            }
            let checkpoint = Checkpoint(
                model: conf.model, preprocess: conf.preprocess, threshold: conf.threshold, postprocess: conf.postprocess, score: conf.score,
                metrics: metrics, seqLen: model.seqLen, pipelineID: pipelineID, key: key, version: version,
                createdAt: RFC3339.format(milliseconds: now), train: train, modelState: model.stateDict(),
                preprocessStats: fitted.map { $0.isStateful ? $0.stats : [] }, thresholdStats: threshold.stats,
                scoreStats: scoreStats)
            let pipeline = try ScoringPipeline(model: model, preprocess: fitted, threshold: threshold,
                                               postprocess: try conf.postprocess.map { try Postprocess.make($0, path: "postprocess") },
                                               score: conf.score, metrics: metrics, stats: scoreStats)
            return Result(checkpoint: checkpoint, pipeline: pipeline, summary: summary, droppedRows: dropped)
        } catch let e as PipelineTrainingError {
            throw e
        } catch let e as TrainingError {
            throw .training(e.description)
        } catch let e as ScoringError {
            throw .data(e.description)
        } catch let e as ConfigReadError {
            throw .config(e.description)
        } catch let e as AutoencoderError {
            throw .config(e.description)
        } catch let e as CheckpointError.Problem {
            throw .config("\(e)")
        } catch {
            throw .training("\(error)")
        }
    }
}

/// Why a pipeline could not be trained.
public enum PipelineTrainingError: Error, Equatable, CustomStringConvertible {
    case insufficientData(rows: Int, needed: Int)
    case data(String)
    case config(String)
    case training(String)

    public var description: String {
        switch self {
        case .insufficientData(let r, let n): "insufficient data: \(r) usable rows, \(n) needed"
        case .data(let s): "data: \(s)"
        case .config(let s): "config: \(s)"
        case .training(let s): "training: \(s)"
        }
    }
}

