import TensorCore
import Training

/// Precision, recall and F1 at a score threshold, and the area under the precision–recall curve.
public struct DetectionReport: Sendable, Equatable {
    public var threshold: Float
    public var precision: Double, recall: Double, f1: Double
    /// Average precision (step-wise area under the PR curve).
    public var prAUC: Double
    public var positives: Int, scored: Int

    /// Evaluates `scores` against 0/1 `labels` (equal lengths).
    public static func evaluate(scores: [Float], labels: [Int], threshold: Float) -> DetectionReport {
        let positives = labels.reduce(0, +)
        var tp = 0, fp = 0
        for (s, l) in zip(scores, labels) where s >= threshold { if l == 1 { tp += 1 } else { fp += 1 } }
        let precision = tp + fp == 0 ? 0 : Double(tp) / Double(tp + fp)
        let recall = positives == 0 ? 0 : Double(tp) / Double(positives)
        let f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
        // Average precision: Σ (R_k − R_{k−1})·P_k over distinct score thresholds, highest first.
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var ap = 0.0, tpc = 0, seen = 0, lastRecall = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j < order.count && scores[order[j]] == scores[order[i]] { tpc += labels[order[j]]; seen += 1; j += 1 }
            let r = positives == 0 ? 0 : Double(tpc) / Double(positives)
            ap += (r - lastRecall) * Double(tpc) / Double(seen)
            lastRecall = r
            i = j
        }
        return DetectionReport(threshold: threshold, precision: precision, recall: recall, f1: f1, prAUC: ap,
                               positives: positives, scored: scores.count)
    }
}

/// Streams a metric table through the daemon's life cycle offline: no model until `min_train_size` rows
/// exist, then training on the last `train_hours` of rows, scoring of every later row as the newest point
/// of its window, and retraining whenever `retrain_freq_hr` has passed (all by the rows' timestamps).
public struct Backtest {
    public var conf: NumalogicConf
    public var windowSize: Int
    public var pipelineID: String
    /// Called with (rows processed, total rows, trainings so far) roughly every 1 % of the rows.
    public var progress: ((Int, Int, Int) -> Void)?
    public var trainingCallbacks: [any TrainerCallback]

    public init(conf: NumalogicConf, windowSize: Int, pipelineID: String = "default", progress: ((Int, Int, Int) -> Void)? = nil,
                trainingCallbacks: [any TrainerCallback] = []) {
        (self.conf, self.windowSize, self.pipelineID, self.progress, self.trainingCallbacks) = (conf, windowSize, pipelineID, progress, trainingCallbacks)
    }

    public struct Training: Sendable { public var row: Int; public var timestamp: Int64; public var rows: Int; public var version: Int; public var seconds: Double }

    public struct Result: Sendable {
        public var rows: [ScoredRow]
        public var trainings: [Training]
        public var filledCells: Int
        /// The score a ratio of exactly 1 (an error at the threshold) maps to: the default decision threshold.
        public var defaultThreshold: Float
    }

    public func run(_ input: MetricTable) throws(PipelineTrainingError) -> Result {
        var table = input
        let filled = table.forwardFill()
        let n = table.rows, f = table.metrics.count, l = windowSize
        for i in 1..<max(n, 1) where table.timestamps[i] < table.timestamps[i - 1] {
            throw .data("timestamps must not decrease (row \(i + 1))")
        }
        var rows: [ScoredRow] = []
        rows.reserveCapacity(n)
        var trainings: [Training] = []
        var pipeline: ScoringPipeline?
        var version = 0, lastTrain: Int64 = 0
        var state = KeyScoreState()
        let trainSpan = Int64(conf.trainer.trainHours * 3_600_000), retrainEvery = Int64(conf.trainer.retrainFreqHr * 3_600_000)
        let threshold = conf.postprocess.flatMap { try? Postprocess.make($0, path: "postprocess") }.map { p -> Float in
            if case .expMovingAverage = p { return Postprocess.tanhNorm(scaleFactor: 10, smoothFactor: 10).apply(1) }
            return p.apply(1)
        } ?? 1
        var i = 0
        var nextReport = 0
        while i < n {
            let t = table.timestamps[i]
            let due = pipeline == nil ? i + 1 >= conf.trainer.minTrainSize : t - lastTrain >= retrainEvery
            if due {
                var first = i
                while first > 0 && t - table.timestamps[first - 1] <= trainSpan { first -= 1 }
                if i + 1 - first >= conf.trainer.minTrainSize {
                    let started = monotonicClock()
                    var c = conf
                    c.trainer.minTrainSize = min(c.trainer.minTrainSize, i + 1 - first)
                    let r = try PipelineTrainer(conf: c, metrics: table.metrics, pipelineID: pipelineID, callbacks: trainingCallbacks)
                        .train(table.values.slice(axis: 0, first..<(i + 1)), timestamps: Array(table.timestamps[first...i]),
                               version: version + 1, now: t)
                    pipeline = r.pipeline
                    version += 1
                    lastTrain = t
                    state = KeyScoreState()
                    trainings.append(Training(row: i, timestamp: t, rows: i + 1 - first, version: version, seconds: monotonicClock() - started))
                }
            }
            // Score rows up to the next retraining point in one batch.
            var end = i + 1
            if let p = pipeline {
                while end < n && table.timestamps[end] - lastTrain < retrainEvery && end - i < 4096 { end += 1 }
                let firstScorable = max(i, l - 1)
                for k in i..<min(firstScorable, end) { rows.append(ScoredRow(timestamp: table.timestamps[k], status: "warming_up", modelVersion: version)) }
                if firstScorable < end {
                    let windows = Tensor.stack((firstScorable..<end).map { table.values.slice(axis: 0, ($0 - l + 1)..<($0 + 1)) }, axis: 0)
                    let errors = p.errors(windows)
                    for (j, k) in (firstScorable..<end).enumerated() {
                        let s = p.score(errors: errors.slice(axis: 0, j..<(j + 1)).reshaped([l, f]),
                                        raw: windows.slice(axis: 0, j..<(j + 1)).reshaped([l, f]), state: &state)
                        rows.append(ScoredRow(timestamp: table.timestamps[k], unified: s.unified, features: s.features,
                                              errors: s.newestErrors, status: "scored", modelVersion: version))
                    }
                }
            } else {
                rows.append(ScoredRow(timestamp: t, status: "model_not_ready"))
            }
            i = end
            if let progress, i >= nextReport || i == n {
                progress(i, n, trainings.count)
                nextReport = i + max(1, n / 100)
            }
        }
        return Result(rows: rows, trainings: trainings, filledCells: filled, defaultThreshold: threshold)
    }
}
