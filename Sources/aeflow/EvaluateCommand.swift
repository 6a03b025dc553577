import ArgumentParser
import Stage
import Foundation
import Logging
import Scoring
import Offline
import TensorCore
import Training

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Backtest every labelled series of a corpus and report detection quality beside two baselines.",
        discussion: """
            Runs three detectors over every series, each with one configuration for all series: the configured pipeline \
            ("aeflow"), the same pipeline with score.mode numalogic ("numalogic"), and a rolling z-score ("zscore"). \
            Labels only judge alarms afterwards. Reports per category and overall: events, detected, false alarms, \
            precision, recall, F1, false alarms per 1,000 rows, median detection delay (rows), the early-detection score \
            (NAB standard profile, 0 = never alarms, 100 = perfect) and point-wise PR AUC. Corpus layout: README \
            "Detection quality".
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var selection: PipelineSelection
    @Option(help: "Corpus directory (category subdirectories of CSVs; labels as a label column, <series>.json or labels.json).") var corpus: String
    @Option(help: "Configuration YAML (default: the embedded default pipeline; metrics = each series' numeric columns).") var config: String?
    @Option(help: "Write the per-series and summary results as JSON.") var report: String?
    @Option(help: "Write one PNG per series and detector (values, expected values, score, alarms, labelled windows).") var plotDir: String?
    @Option(help: "Which half of the corpus: all, dev (every other series of each category, from the first) or holdout.") var split = "all"
    @Option(help: "Series names (relative paths) containing this text only.") var filter: String?
    @Option(help: "Detectors to run, comma-separated: aeflow, numalogic, zscore.") var detectors = "aeflow,numalogic,zscore"
    @Option(help: "Rolling z-score baseline: window (rows).") var zscoreWindow = 288
    @Option(help: "Rolling z-score baseline: alert threshold (|z|; 8 was its best on the dev half).") var zscoreThreshold: Float = 8
    @Option(help: "Override the pipeline's score.alert_threshold for the aeflow detector.") var alertThreshold: Float?
    @Option(help: "Series evaluated at once (threads).") var jobs = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard ["all", "dev", "holdout"].contains(split) else { throw ValidationError("--split must be all, dev or holdout") }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        guard zscoreWindow >= 2 else { throw ValidationError("--zscore-window must be at least 2") }
        let known = ["aeflow", "numalogic", "zscore"]
        for d in detectors.split(separator: ",") where !known.contains(String(d)) {
            throw ValidationError("unknown detector \"\(d)\" (known: \(known.joined(separator: ", ")))")
        }
    }

    func run() throws {
        try AEFlow.setUp(global)
        BLAS.setThreads(1)   // series run in parallel instead
        try runCatching {
            let logger = Logger(label: "aeflow.evaluate")
            let cfg = try loadConfig(config)
            let (stream, p) = try selection.resolve(cfg)
            var series: [LabelledSeries]
            do { series = try LabelledCorpus.load(root: corpus) } catch { throw UserFacingError("\(error)") }
            series = Self.split(series, split)
            if let filter { series = series.filter { $0.name.contains(filter) } }
            guard !series.isEmpty else { throw UserFacingError("no series selected in \(corpus)") }
            // One configuration for every series; only the metric columns adapt (without --config).
            var detectorList: [(name: String, detector: Detector)] = []
            var prepared: [LabelledSeries] = []
            for s in series {
                var s = s
                if config != nil {
                    do { s.table = try s.table.selecting(p.metrics) } catch { throw UserFacingError("\(s.name): \(error)") }
                }
                do { _ = try p.numalogicConf.withFeatures(s.table.metrics.count) } catch { throw UserFacingError("\(s.name): \(error)") }
                prepared.append(s)
            }
            var conf = p.numalogicConf
            if let alertThreshold { conf.score.alertThreshold = alertThreshold }
            for d in detectors.split(separator: ",").map(String.init) {
                switch d {
                case "aeflow":
                    detectorList.append(("aeflow", .pipeline(conf: conf, windowSize: stream.windowSize, duplicates: cfg.windows.duplicatePolicy,
                                                             late: cfg.windows.latePolicy)))
                case "numalogic":
                    var n = conf
                    n.score.mode = .numalogic
                    n.score.alertThreshold = nil
                    detectorList.append(("numalogic", .pipeline(conf: n, windowSize: stream.windowSize, duplicates: cfg.windows.duplicatePolicy,
                                                                late: cfg.windows.latePolicy)))
                default:
                    detectorList.append(("zscore", .zscore(RollingZScore(window: zscoreWindow, threshold: zscoreThreshold))))
                }
            }
            logger.info("evaluating", metadata: ["series": "\(prepared.count)", "rows": "\(prepared.reduce(0) { $0 + $1.table.rows })",
                                                 "detectors": "\(detectorList.map(\.name).joined(separator: ","))", "split": "\(split)",
                                                 "mode": "\(conf.score.mode.rawValue)", "jobs": "\(jobs)"])
            let line = ProgressLine(label: "evaluate")
            let evaluation = Evaluation(detectors: detectorList, parallelism: jobs)
            let results = evaluation.run(prepared) { done, total, name in line.update(done: done, total: total, ["series": name]) }
            let summary = EvaluationSummary(results, detectors: detectorList.map(\.name))
            try writeText(summary.table + "\n", to: nil)
            if let report {
                let perSeries = JSONValue.array(results.map { r in
                    .object(JSONObject([
                        ("series", .string(r.series)), ("category", .string(r.category)), ("detector", .string(r.detector)),
                        ("events", .int(Int64(r.counts.events))), ("detected", .int(Int64(r.counts.detected))),
                        ("false_alarms", .int(Int64(r.counts.falseAlarms))), ("f1", .double(r.counts.f1)),
                        ("early_score", .double(r.counts.earlyScore)), ("pr_auc", .double(r.prAUC)), ("trainings", .int(Int64(r.trainings))),
                        ("seconds", .double(r.seconds)),
                    ]))
                })
                let doc = JSONValue.object(JSONObject([
                    ("corpus", .string(corpus)), ("split", .string(split)), ("series", .int(Int64(prepared.count))),
                    ("config", .string(config ?? "<embedded default>")), ("summary", summary.json), ("per_series", perSeries),
                ]))
                try writeText(doc.serialized() + "\n", to: report)
            }
            if let plotDir {
                do { try FileManager.default.createDirectory(atPath: plotDir, withIntermediateDirectories: true) } catch {
                    throw UserFacingError("\(plotDir): cannot create directory (\(error.localizedDescription))")
                }
                for r in results {
                    guard let s = prepared.first(where: { $0.name == r.series }) else { continue }
                    var chart = SeriesChart(title: "\(r.series) - \(r.detector)", values: (0..<s.table.rows).map { s.table.values[$0, 0] },
                                            scores: r.scores.map { r.detector == "zscore" ? min(($0 ?? .nan), 10) : ($0 ?? .nan) }, marked: [])
                    chart.alarms = Set(r.alarms.indices.filter { r.alarms[$0] })
                    chart.windows = s.windows.map { $0.first...$0.last }
                    let file = r.series.replacingOccurrences(of: "/", with: "__").replacingOccurrences(of: ".csv", with: "") + "-\(r.detector).png"
                    try writeBytes(chart.render().png(), to: plotDir + "/" + file)
                }
            }
        }
    }

    /// Deterministic halves: within each category, series in name order alternate dev, holdout, dev, …
    static func split(_ series: [LabelledSeries], _ which: String) -> [LabelledSeries] {
        guard which != "all" else { return series }
        var seen: [String: Int] = [:]
        return series.filter { s in
            let i = seen[s.category, default: 0]
            seen[s.category] = i + 1
            return (i % 2 == 0) == (which == "dev")
        }
    }
}

struct CorpusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "corpus", abstract: "Write evaluation corpora.",
                                                    subcommands: [Synthetic.self])

    struct Synthetic: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write labelled synthetic series (seasonal, two metrics, numalogic's anomaly kinds) as CSVs with a label column.")
        @Option(help: "Directory to write (created).") var output: String
        @Option(help: "Series per anomaly kind (global, contextual, collective, causal).") var perKind = 3
        @Option(help: "Rows per series (5-minute cadence).") var rows = 4032
        @Option(help: "Seed.") var seed: UInt64 = 7

        func run() throws {
            try runCatching {
                do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) } catch {
                    throw UserFacingError("\(output): cannot create directory (\(error.localizedDescription))")
                }
                var n = 0
                for kind in AnomalyGenerator.Kind.allCases {
                    for i in 0..<perKind {
                        let s = SyntheticCorpus.series(kind: kind, index: i, length: rows, seed: seed)
                        var text = "timestamp," + s.metrics.joined(separator: ",") + ",label\n"
                        for r in 0..<s.timestamps.count {
                            text += "\(RFC3339.format(milliseconds: s.timestamps[r])),\(s.values[r, 0]),\(s.values[r, 1]),\(s.labels[r])\n"
                        }
                        try writeText(text, to: "\(output)/\(s.name).csv")
                        n += 1
                    }
                }
                try writeText("\(n) labelled series in \(output)\n", to: nil)
            }
        }
    }
}
