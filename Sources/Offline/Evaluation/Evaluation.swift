import Scoring
import Dispatch
import Synchronization
import TensorCore
import SystemCalls

/// A detector `aeflow evaluate` runs over every series: an AEFlow pipeline (streamed through ``Backtest``) or
/// the rolling z-score baseline.
public enum Detector: Sendable {
    case pipeline(conf: NumalogicConf, windowSize: Int, duplicates: DuplicatePolicy, late: LatePolicy)
    case zscore(RollingZScore)
}

/// One detector's result on one series.
public struct SeriesResult: Sendable {
    public var series: String
    public var category: String
    public var detector: String
    public var counts: DetectionCounts
    public var prAUC: Double
    public var trainings: Int
    public var seconds: Double
    /// Per row: the score (nil where none) and the alarm flag — for plots.
    public var scores: [Float?]
    public var alarms: [Bool]
}

/// Runs detectors over a labelled corpus, side by side, with one configuration each for every series (no labels
/// are read while scoring; they only judge the alarms afterwards).
public struct Evaluation: Sendable {
    public var detectors: [(name: String, detector: Detector)]
    /// The share of each series, from its start, that is not judged (NAB's probationary period, 15 %).
    public var probation: Double = 0.15
    /// Series scored at once (each on its own thread).
    public var parallelism: Int = 1

    public init(detectors: [(name: String, detector: Detector)], probation: Double = 0.15, parallelism: Int = 1) {
        (self.detectors, self.probation, self.parallelism) = (detectors, probation, parallelism)
    }

    /// Scores one series with one detector and judges it.
    public func evaluate(_ s: LabelledSeries, name: String, detector: Detector) -> SeriesResult {
        let started = MonotonicClock.now()
        var scores: [Float?]
        var alarms: [Bool]
        var trainings = 0
        switch detector {
        case .pipeline(let conf, let windowSize, let duplicates, let late):
            // One configuration for every series; only the model's input width follows the series' metric count.
            let bt = Backtest(conf: (try? conf.withFeatures(s.table.metrics.count)) ?? conf, windowSize: windowSize, pipelineID: "evaluate", duplicates: duplicates, late: late)
            let r = bt.run(s.table)
            scores = r.rows.map(\.unified)
            alarms = r.rows.map { $0.isAnomaly ?? false }
            trainings = r.trainings.filter { $0.failure == nil }.count
        case .zscore(let z):
            scores = z.scores(s.table.values)
            alarms = scores.map { ($0 ?? 0) >= z.threshold }
        }
        let probationRows = Int((Double(s.table.rows) * probation).rounded(.down))
        let counts = DetectionCounts.judge(alarms: alarms, windows: s.windows, probation: probationRows)
        let labels = s.pointLabels
        let ap = averagePrecision(scores: scores[probationRows...].map { $0 ?? 0 }, labels: Array(labels[probationRows...]))
        return SeriesResult(series: s.name, category: s.category, detector: name, counts: counts, prAUC: ap, trainings: trainings,
                            seconds: MonotonicClock.now() - started, scores: scores, alarms: alarms)
    }

    /// Every detector on every series; `progress(done, total, current series)` after each (series, detector).
    public func run(_ corpus: [LabelledSeries], progress: (@Sendable (Int, Int, String) -> Void)? = nil) -> [SeriesResult] {
        let jobs = corpus.indices.flatMap { s in detectors.indices.map { (s, $0) } }
        let results = Mutex([SeriesResult?](repeating: nil, count: jobs.count))
        let done = Atomic<Int>(0)
        let next = Atomic<Int>(0)
        let workers = max(1, min(parallelism, jobs.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let j = next.add(1, ordering: .relaxed).oldValue
                guard j < jobs.count else { return }
                let (si, di) = jobs[j]
                let r = evaluate(corpus[si], name: detectors[di].name, detector: detectors[di].detector)
                results.withLock { $0[j] = r }
                let d = done.add(1, ordering: .relaxed).newValue
                progress?(d, jobs.count, corpus[si].name)
            }
        }
        return results.withLock { $0.map { $0! } }
    }
}

/// Results summed per category and over the corpus, per detector.
public struct EvaluationSummary: Sendable {
    public struct Entry: Sendable {
        public var detector: String
        public var category: String
        public var counts: DetectionCounts
        /// Mean of the series' point-wise PR AUCs (series with events only).
        public var prAUC: Double
        public var trainings: Int
        public var seconds: Double
    }

    public var entries: [Entry]
    public static let overall = "overall"

    public init(_ results: [SeriesResult], detectors: [String]) {
        let categories = Array(Set(results.map(\.category))).sorted()
        entries = detectors.flatMap { d in
            (categories + [EvaluationSummary.overall]).map { cat in
                let rs = results.filter { $0.detector == d && (cat == EvaluationSummary.overall || $0.category == cat) }
                let withEvents = rs.filter { $0.counts.events > 0 }
                return Entry(detector: d, category: cat, counts: rs.reduce(DetectionCounts()) { $0 + $1.counts },
                             prAUC: withEvents.isEmpty ? 0 : withEvents.reduce(0) { $0 + $1.prAUC } / Double(withEvents.count),
                             trainings: rs.reduce(0) { $0 + $1.trainings }, seconds: rs.reduce(0) { $0 + $1.seconds })
            }
        }
    }

    public func entry(_ detector: String, _ category: String = EvaluationSummary.overall) -> Entry? {
        entries.first { $0.detector == detector && $0.category == category }
    }

    /// A fixed-width table: one row per category and detector.
    public var table: String {
        func fmt(_ x: Double, _ d: Int = 3) -> String {
            let p = pow(10, Double(d))
            return String((x * p).rounded() / p)
        }
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        var lines = [[pad("category", 24), pad("detector", 12), pad("events", 7), pad("found", 6), pad("false", 6), pad("prec", 6),
                      pad("recall", 6), pad("F1", 6), pad("FA/1k", 7), pad("delay", 6), pad("early", 7), "PR-AUC"].joined(separator: " ")]
        for e in entries {
            let c = e.counts
            lines.append([pad(e.category, 24), pad(e.detector, 12), pad(String(c.events), 7), pad(String(c.detected), 6),
                          pad(String(c.falseAlarms), 6), pad(fmt(c.precision), 6), pad(fmt(c.recall), 6), pad(fmt(c.f1), 6),
                          pad(fmt(c.falseAlarmsPer1k, 2), 7), pad(c.medianDelay.map { fmt($0, 1) } ?? "-", 6), pad(fmt(c.earlyScore, 1), 7),
                          fmt(e.prAUC)].joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }

    public var json: JSONValue {
        .array(entries.map { e in
            let c = e.counts
            return .object(JSONObject([
                ("detector", .string(e.detector)), ("category", .string(e.category)), ("series", .int(Int64(c.series))),
                ("events", .int(Int64(c.events))), ("detected", .int(Int64(c.detected))), ("false_alarms", .int(Int64(c.falseAlarms))),
                ("rows", .int(Int64(c.rows))), ("precision", .double(c.precision)), ("recall", .double(c.recall)), ("f1", .double(c.f1)),
                ("false_alarms_per_1k", .double(c.falseAlarmsPer1k)), ("median_delay_rows", c.medianDelay.map { .double($0) } ?? .null),
                ("mean_delay_rows", c.meanDelay.map { .double($0) } ?? .null), ("early_score", .double(c.earlyScore)),
                ("pr_auc", .double(e.prAUC)), ("trainings", .int(Int64(e.trainings))), ("seconds", .double(e.seconds)),
            ]))
        })
    }
}

#if canImport(Glibc)
import Glibc
#endif
