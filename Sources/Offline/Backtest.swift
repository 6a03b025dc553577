import Autoencoders
import Scoring
import TensorCore
import Training
import SystemCalls

/// One output row of a backtest: what the daemon would have answered for that input row.
public struct BacktestRow: Sendable, Equatable {
    public enum Outcome: Equatable, Sendable {
        /// The point was accepted and answered with this status.
        case output(ScoreStatus)
        /// Rejected by the duplicate policy (`duplicate_policy: drop`) or the late policy (`late_policy: drop`,
        /// or too old for `insert`), with the daemon's rejection reasons.
        case duplicate, late

        public var text: String {
            switch self {
            case .output(let s): s.rawValue
            case .duplicate: "duplicate"
            case .late: "late"
            }
        }
    }

    public var outcome: Outcome
    public var unified: Float?
    public var features: [Float]?
    /// Element-wise errors of the row as the newest point of its window.
    public var errors: [Float]?
    /// The reconstruction in metric units (the expected value), when the preprocess chain has an inverse.
    public var expected: [Float]?
    public var isAnomaly: Bool?
    public var modelVersion: Int?

    public init(outcome: Outcome, unified: Float? = nil, features: [Float]? = nil, errors: [Float]? = nil, expected: [Float]? = nil,
                isAnomaly: Bool? = nil, modelVersion: Int? = nil) {
        (self.outcome, self.unified, self.features, self.errors, self.expected, self.isAnomaly, self.modelVersion) =
            (outcome, unified, features, errors, expected, isAnomaly, modelVersion)
    }
}

/// Streams a metric table through the daemon's life cycle offline, one key, row by row in file order:
/// the daemon's window with its duplicate and late policies, missing values filled from the key's previous
/// point, a model trained by ``TrainingSchedule`` on the key's accepted history (event time), and every row
/// scored as the newest point of its window with the key's running score state.
public struct Backtest {
    public var conf: NumalogicConf
    public var windowSize: Int
    public var pipelineID: String
    public var duplicates: DuplicatePolicy
    public var late: LatePolicy
    /// Called with (rows processed, total rows, trainings so far) roughly every 1 % of the rows.
    public var progress: ((Int, Int, Int) -> Void)?
    public var trainingCallbacks: [any TrainerCallback]

    public init(conf: NumalogicConf, windowSize: Int, pipelineID: String = "default", duplicates: DuplicatePolicy = .replace,
                late: LatePolicy = .drop, progress: ((Int, Int, Int) -> Void)? = nil, trainingCallbacks: [any TrainerCallback] = []) {
        (self.conf, self.windowSize, self.pipelineID, self.duplicates, self.late) = (conf, windowSize, pipelineID, duplicates, late)
        (self.progress, self.trainingCallbacks) = (progress, trainingCallbacks)
    }

    public struct Training: Sendable {
        public var row: Int
        public var timestamp: Int64
        public var rows: Int
        public var version: Int
        public var seconds: Double
        public var reason: TrainingSchedule.Reason
        /// Why it failed (the previous model, if any, keeps scoring).
        public var failure: PipelineTrainingError?
    }

    public struct Result: Sendable {
        public var rows: [BacktestRow]
        public var trainings: [Training]
        public var filledCells: Int
        /// The alert threshold outputs were judged against (`is_anomaly`).
        public var alertThreshold: Float
    }

    public func run(_ table: MetricTable) -> Result {
        let n = table.rows, f = table.metrics.count, l = windowSize
        let schedule = conf.trainer.schedule
        var windows = KeyedWindows<Int>(length: l, features: f, capacity: 1)
        var historyTimes: [Int64] = [], historyRows: [Float] = []
        var rows: [BacktestRow] = []
        rows.reserveCapacity(n)
        var trainings: [Training] = []
        var pipeline: ScoringPipeline?
        var version = 0
        var last: TrainingSchedule.LastTraining?
        var state = KeyScoreState()
        let scratch = InferenceScratch()   // the compiled plans' working memory, reused row after row
        var filled = 0
        var nextReport = 0
        let alert = conf.score.alertThreshold ?? ScoreConfig.defaultAlertThreshold(
            mode: conf.score.mode, postprocess: conf.postprocess.flatMap { try? Postprocess.make($0, path: "postprocess") })
        var row = [Float](repeating: 0, count: f)
        var window = [Float](repeating: 0, count: l * f)
        table.values.withUnsafeBufferPointer { values in
            for i in 0..<n {
                defer {
                    if let progress, i + 1 >= nextReport || i + 1 == n {
                        progress(i + 1, n, trainings.count)
                        nextReport = i + 1 + max(1, n / 100)
                    }
                }
                let t = table.timestamps[i]
                let slot = windows.slot(for: 0, now: 0).slot
                // Missing values: the key's previous point (the daemon's `missing_policy: previous`), 0 before any.
                let previous = windows.newestRow(slot: slot)
                for c in 0..<f {
                    let v = values[i * f + c]
                    if v.isNaN { row[c] = previous?[c] ?? 0; filled += 1 } else { row[c] = v }
                }
                let outcome = row.withUnsafeBufferPointer { windows.append(slot: slot, timestamp: t, row: $0, duplicates: duplicates, late: late) }
                let count: Int
                switch outcome {
                case .rejectedDuplicate: rows.append(BacktestRow(outcome: .duplicate)); continue
                case .rejectedLate: rows.append(BacktestRow(outcome: .late)); continue
                case .stored(let c), .replaced(let c): count = c
                }
                // The accepted history, in timestamp order (a repeated timestamp replaces its row).
                let at = lowerBound(historyTimes, t)
                if at < historyTimes.count && historyTimes[at] == t {
                    for c in 0..<f { historyRows[at * f + c] = row[c] }
                } else {
                    historyTimes.insert(t, at: at)
                    historyRows.insert(contentsOf: row, at: at * f)
                }
                // Training by the schedule, on the rows within train_hours of the key's newest point.
                let now = historyTimes.last!
                let first = lowerBound(historyTimes, now - schedule.spanMilliseconds)
                let usable = historyTimes.count - first
                if let reason = schedule.due(rows: usable, now: now, last: last) {
                    let started = MonotonicClock.now()
                    last = TrainingSchedule.LastTraining(at: now, rows: usable)
                    do throws(PipelineTrainingError) {
                        let r = try PipelineTrainer(conf: conf, metrics: table.metrics, pipelineID: pipelineID, callbacks: trainingCallbacks)
                            .train(Tensor(shape: [usable, f], scalars: Array(historyRows[(first * f)...])),
                                   timestamps: Array(historyTimes[first...]), version: version + 1, now: now)
                        pipeline = r.pipeline
                        version += 1
                        state.startModel(carry: conf.score.likelihood.carry)
                        trainings.append(Training(row: i, timestamp: now, rows: usable, version: version,
                                                  seconds: MonotonicClock.now() - started, reason: reason))
                    } catch {
                        trainings.append(Training(row: i, timestamp: now, rows: usable, version: version,
                                                  seconds: MonotonicClock.now() - started, reason: reason, failure: error))
                    }
                }
                guard count >= l else { rows.append(BacktestRow(outcome: .output(.warmingUp), modelVersion: pipeline == nil ? nil : version)); continue }
                window.withUnsafeMutableBufferPointer { _ = windows.copyWindow(slot: slot, into: $0.baseAddress!) }
                guard let p = pipeline else {
                    if let adjust = conf.score.adjust, let s = adjust.score(raw: Tensor(shape: [l, f], scalars: window), metrics: table.metrics) {
                        rows.append(BacktestRow(outcome: .output(.staticThreshold), unified: s, isAnomaly: s >= alert))
                    } else {
                        rows.append(BacktestRow(outcome: .output(.modelNotReady)))
                    }
                    continue
                }
                let s = p.score(window: Tensor(shape: [l, f], scalars: window), state: &state, scratch: scratch)
                rows.append(BacktestRow(outcome: .output(.scored), unified: s.unified, features: s.features, errors: s.newestErrors,
                                        expected: s.expected, isAnomaly: s.isAnomaly, modelVersion: version))
            }
        }
        return Result(rows: rows, trainings: trainings, filledCells: filled, alertThreshold: pipeline?.alertThreshold ?? alert)
    }
}

/// The first index of sorted `xs` whose value is ≥ `x`.
func lowerBound(_ xs: [Int64], _ x: Int64) -> Int {
    var (lo, hi) = (0, xs.count)
    while lo < hi {
        let mid = (lo + hi) / 2
        if xs[mid] < x { lo = mid + 1 } else { hi = mid }
    }
    return lo
}
