import ArgumentParser
import Stage
import Foundation
import Logging
import Scoring
import Offline
import TensorCore
import Training

/// Picks the stream and pipeline a command works on.
struct PipelineSelection: ParsableArguments {
    @Option(name: .long, help: "Stream config id (default: the first, or 'default').")
    var configId: String?

    @Option(name: .long, help: "ML pipeline id within the stream (default: the first).")
    var pipeline: String?

    func resolve(_ config: AEFlowConfig) throws -> (StreamConf, MLPipelineConf) {
        guard let stream = configId.map({ id in config.streams.first { $0.configID == id } }) ?? config.stream(nil) ?? config.streams.first else {
            throw UserFacingError("no stream config \(configId.map { "\"\($0)\"" } ?? "") in the configuration")
        }
        guard let p = pipeline.map({ stream.pipeline($0) }) ?? stream.pipelines.first else {
            throw UserFacingError("stream \"\(stream.configID)\" has no ML pipeline \(pipeline.map { "\"\($0)\"" } ?? "")")
        }
        return (stream, p)
    }
}

func loadConfig(_ path: String?) throws -> AEFlowConfig {
    do { return try AEFlowConfig.load(path: path) } catch { throw UserFacingError("configuration: \(error)") }
}

/// The pipeline an offline command runs and the CSV it reads: with `--config`, the selected pipeline and its
/// metric columns; without, the embedded default pipeline with every numeric column other than
/// `timestamp`/`label` as its metrics (the model's `n_features` set to match).
struct OfflinePipeline {
    var config: AEFlowConfig
    var stream: StreamConf
    var pipeline: MLPipelineConf
    var table: MetricTable

    static func load(config path: String?, selection: PipelineSelection, input: String, labelColumn: String? = nil) throws -> OfflinePipeline {
        let cfg = try loadConfig(path)
        var (stream, p) = try selection.resolve(cfg)
        let table: MetricTable
        do {
            table = try MetricTable.load(path: input, metrics: path == nil ? nil : p.metrics, labelColumn: labelColumn)
        } catch { throw UserFacingError("\(error)") }
        if path == nil {
            p.metrics = table.metrics
            do { p.numalogicConf = try p.numalogicConf.withFeatures(table.metrics.count) } catch { throw UserFacingError("\(error)") }
            stream.pipelines = [p]
        }
        return OfflinePipeline(config: cfg, stream: stream, pipeline: p, table: table)
    }
}

func writeText(_ text: String, to path: String?) throws {
    if let path {
        do { try AtomicFile.write(Array(text.utf8), to: path) } catch { throw UserFacingError("\(error)") }
    } else {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    do { try AtomicFile.write(bytes, to: path) } catch { throw UserFacingError("\(error)") }
}

func runCatching(_ body: () throws -> Void) throws {
    do { try body() } catch let e as UserFacingError {
        throw fail(e.description)
    } catch let e as ExitCode {
        throw e
    } catch {
        throw fail("\(error)")
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a pipeline on a CSV and write a checkpoint.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var selection: PipelineSelection
    @Option(help: "Configuration YAML (default: the embedded default pipeline on the CSV's numeric columns).") var config: String?
    @Option(help: "CSV with a timestamp column and one column per metric.") var input: String
    @Option(help: "Checkpoint file to write.") var output: String?
    @Option(help: "Model store root to publish into (next version, LATEST updated).") var store: String?
    @Option(help: "Composite key for --store, values separated by ':'.") var key: String?
    @Option(help: "Training seed (overrides the config's).") var seed: UInt64?

    func validate() throws {
        guard output != nil || store != nil else { throw ValidationError("give --output, or --store with --key") }
        if store != nil && key == nil { throw ValidationError("--store needs --key") }
    }

    func run() throws {
        try AEFlow.setUp(global)
        try runCatching {
            let logger = Logger(label: "aeflow.train")
            let o = try OfflinePipeline.load(config: config, selection: selection, input: input)
            let p = o.pipeline
            var conf = p.numalogicConf
            if let seed { conf.trainer.seed = seed }
            logger.info("training", metadata: ["rows": "\(o.table.rows)", "pipeline": "\(p.pipelineID)", "model": "\(conf.model.name)",
                                               "window": "\(o.stream.windowSize)", "metrics": "\(p.metrics.joined(separator: ","))"])
            let keyValues = key.map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
            let r: PipelineTrainer.Result
            do {
                r = try PipelineTrainer(conf: conf, metrics: p.metrics, pipelineID: p.pipelineID, key: keyValues,
                                        callbacks: [TrainingProgress(logEveryNEpochs: conf.trainer.logFreq, label: p.pipelineID)])
                    .train(o.table.values, timestamps: o.table.timestamps, now: Int64(Date().timeIntervalSince1970 * 1000))
            } catch { throw UserFacingError("\(error)") }
            if let output {
                do { try r.checkpoint.write(to: output) } catch { throw UserFacingError("\(error)") }
                logger.info("checkpoint written", metadata: ["path": "\(output)", "train_loss": "\(r.summary.finalTrainLoss)",
                                                             "dropped_rows": "\(r.droppedRows)"])
            }
            if let store {
                let s = CheckpointStore(root: store, keepVersions: o.config.store.keepVersions)
                do {
                    let (v, path) = try s.publish(r.checkpoint)
                    logger.info("checkpoint published", metadata: ["path": "\(path)", "version": "\(v)"])
                } catch { throw UserFacingError("\(error)") }
            }
        }
    }
}

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Score every row of a CSV as the newest point of its window (the checkpoint holds the pipeline; no --config needed).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Checkpoint (aeflow.checkpoint.v1).") var checkpoint: String
    @Option(help: "CSV with a timestamp column and the checkpoint's metric columns.") var input: String
    @Option(help: "Output CSV (standard output when omitted).") var output: String?

    func run() throws {
        try AEFlow.setUp(global)
        try runCatching {
            let (c, pipeline): (Checkpoint, ScoringPipeline)
            do { (c, pipeline) = try Checkpoint.load(path: checkpoint) } catch { throw UserFacingError("\(error)") }
            var table: MetricTable
            do { table = try MetricTable.load(path: input, metrics: c.metrics) } catch { throw UserFacingError("\(error)") }
            let raw = table
            _ = table.forwardFill()
            let (n, f, l) = (table.rows, c.metrics.count, c.seqLen)
            var rows = (0..<min(n, l - 1)).map { _ in BacktestRow(outcome: .output(.warmingUp), modelVersion: c.version) }
            var state = KeyScoreState()
            for k in max(0, l - 1)..<n {
                let s = pipeline.score(window: table.values.slice(axis: 0, (k - l + 1)..<(k + 1)).reshaped([l, f]), state: &state)
                rows.append(BacktestRow(outcome: .output(.scored), unified: s.unified, features: s.features, errors: s.newestErrors,
                                        expected: s.expected, isAnomaly: s.isAnomaly, modelVersion: c.version))
            }
            try writeText(ScoreCSV.document(raw, rows), to: output)
        }
    }
}

struct Backtest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream a CSV through train / score / retrain as the daemon would, by the rows' timestamps.",
        discussion: """
            One output row per input row, in input order: the input's timestamp and metric cells, then status, unified \
            (0-10), is_anomaly, per-metric scores, expected values and errors, and the model version. Late and duplicate \
            rows follow the configuration's windows.late_policy / duplicate_policy (status late / duplicate when rejected).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var selection: PipelineSelection
    @Option(help: "Configuration YAML (default: the embedded default pipeline on the CSV's numeric columns).") var config: String?
    @Option(help: "CSV with a timestamp column and the pipeline's metric columns.") var input: String?
    @OptionGroup var store: StoreSelection
    @Option(help: "Output CSV (standard output when omitted).") var output: String?
    @Option(help: "Train the first model after this many accepted rows (overrides trainer.min_train_size).") var trainAfter: Int?
    @Option(help: "Override the score mode: numalogic, adaptive or likelihood.") var mode: String?
    @Option(help: "A 0/1 label column to evaluate against (event precision, recall, F1, early score, PR AUC).") var labelColumn: String?
    @Option(help: "Write the evaluation report (with --label-column) as JSON to this file.") var report: String?
    @Option(help: "Draw the series, expected values, score, threshold and alarms to this PNG.") var plot: String?

    func validate() throws {
        if let trainAfter, trainAfter < 1 { throw ValidationError("--train-after must be at least 1") }
        guard (input == nil) != (store.prometheus == nil) else { throw ValidationError("give --input (a CSV) or --prometheus (a metrics store), one of them") }
        if store.prometheus != nil {
            guard store.start != nil, store.end != nil else { throw ValidationError("--prometheus needs --start and --end") }
            if labelColumn != nil { throw ValidationError("--label-column reads a CSV column; it cannot be used with --prometheus") }
        } else if !store.query.isEmpty || store.start != nil || store.end != nil || store.key != nil || store.step != nil {
            throw ValidationError("--query, --key, --start, --end and --step read from a metrics store: give --prometheus")
        }
    }

    func run() throws {
        try AEFlow.setUp(global)
        try runCatching {
            let logger = Logger(label: "aeflow.backtest")
            let o = try input.map { try OfflinePipeline.load(config: config, selection: selection, input: $0, labelColumn: labelColumn) }
                ?? store.load(config: config, selection: selection)
            let input = input ?? store.prometheus!
            var conf = o.pipeline.numalogicConf
            if let mode {
                guard let m = ScoreConfig.Mode(rawValue: mode) else {
                    throw UserFacingError("--mode must be one of \(ScoreConfig.Mode.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(mode)\"")
                }
                conf.score.mode = m
            }
            if let trainAfter { conf.trainer.minTrainSize = trainAfter }
            if let rows = conf.trainer.unreachableTrainSize {
                logger.warning("train_hours cannot reach min_train_size", metadata: [
                    "train_hours": "\(conf.trainer.trainHours)", "data_freq_sec": "\(conf.trainer.dataFreqSec)", "rows": "\(rows)",
                    "min_train_size": "\(conf.trainer.minTrainSize)"])
            }
            let line = ProgressLine(label: "backtest")
            let bt = Offline.Backtest(conf: conf, windowSize: o.stream.windowSize, pipelineID: o.pipeline.pipelineID,
                                      duplicates: o.config.windows.duplicatePolicy, late: o.config.windows.latePolicy,
                                      progress: { done, total, trainings in line.update(done: done, total: total, ["trainings": "\(trainings)"]) })
            let result = bt.run(o.table)
            try writeText(ScoreCSV.document(o.table, result.rows), to: output)
            let failed = result.trainings.filter { $0.failure != nil }
            for t in failed.prefix(3) {
                logger.warning("training failed", metadata: ["row": "\(t.row + 1)", "rows": "\(t.rows)", "error": "\(t.failure!)"])
            }
            var counts: [String: Int] = [:]
            for r in result.rows { counts[r.outcome.text, default: 0] += 1 }
            logger.info("backtest finished", metadata: [
                "rows": "\(result.rows.count)", "trainings": "\(result.trainings.count - failed.count)", "failed_trainings": "\(failed.count)",
                "filled_cells": "\(result.filledCells)", "mode": "\(conf.score.mode.rawValue)", "alert_threshold": "\(result.alertThreshold)",
                "alarms": "\(result.rows.filter { $0.isAnomaly == true }.count)",
                "statuses": "\(counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))"])
            let windows = o.table.labels.map { LabelledCorpus.runs($0) }
            if let windows {
                let c = DetectionCounts.judge(alarms: result.rows.map { $0.isAnomaly ?? false }, windows: windows, probation: 0)
                let ap = averagePrecision(scores: result.rows.map { $0.unified ?? 0 }, labels: o.table.labels!.map { $0 != 0 })
                logger.info("evaluation", metadata: ["events": "\(c.events)", "detected": "\(c.detected)", "false_alarms": "\(c.falseAlarms)",
                                                     "precision": "\(c.precision)", "recall": "\(c.recall)", "f1": "\(c.f1)",
                                                     "early_score": "\(c.earlyScore)", "pr_auc": "\(ap)"])
                if let report {
                    let json = JSONValue.object(JSONObject([
                        ("mode", .string(conf.score.mode.rawValue)), ("alert_threshold", .double(Double(result.alertThreshold))),
                        ("events", .int(Int64(c.events))), ("detected", .int(Int64(c.detected))), ("false_alarms", .int(Int64(c.falseAlarms))),
                        ("precision", .double(c.precision)), ("recall", .double(c.recall)), ("f1", .double(c.f1)),
                        ("early_score", .double(c.earlyScore)), ("pr_auc", .double(ap)),
                        ("trainings", .int(Int64(result.trainings.count - failed.count))),
                    ]))
                    try writeText(json.serialized() + "\n", to: report)
                }
            } else if report != nil {
                throw UserFacingError("--report needs --label-column")
            }
            if let plot {
                let chart = Canvas.backtest(title: input, table: o.table, rows: result.rows, threshold: result.alertThreshold, windows: windows ?? [])
                try writeBytes(chart.png(), to: plot)
            }
        }
    }
}
