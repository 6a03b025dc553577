import ArgumentParser
import Daemon
import Foundation
import Logging
import Scoring
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

func writeText(_ text: String, to path: String?) throws {
    if let path {
        do { try AtomicFile.write(Array(text.utf8), to: path) } catch { throw UserFacingError("\(error)") }
    } else {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
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
    @Option(help: "Configuration YAML.") var config: String
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
            let cfg = try loadConfig(config)
            let (stream, p) = try selection.resolve(cfg)
            var table: MetricTable
            do { table = try MetricTable.load(path: input, metrics: p.metrics) } catch { throw UserFacingError("\(error)") }
            var conf = p.numalogicConf
            if let seed { conf.trainer.seed = seed }
            logger.info("training", metadata: ["rows": "\(table.rows)", "pipeline": "\(p.pipelineID)", "model": "\(conf.model.name)",
                                               "window": "\(stream.windowSize)"])
            let keyValues = key.map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
            let r: PipelineTrainer.Result
            do {
                r = try PipelineTrainer(conf: conf, metrics: p.metrics, pipelineID: p.pipelineID, key: keyValues,
                                        callbacks: [TrainingProgress(logEveryNEpochs: conf.trainer.logFreq, label: p.pipelineID)])
                    .train(table.values, timestamps: table.timestamps, now: Int64(Date().timeIntervalSince1970 * 1000))
            } catch { throw UserFacingError("\(error)") }
            if let output {
                do { try r.checkpoint.write(to: output) } catch { throw UserFacingError("\(error)") }
                logger.info("checkpoint written", metadata: ["path": "\(output)", "train_loss": "\(r.summary.finalTrainLoss)",
                                                             "dropped_rows": "\(r.droppedRows)"])
            }
            if let store {
                let s = CheckpointStore(root: store, keepVersions: cfg.store.keepVersions)
                do {
                    let (v, path) = try s.publish(r.checkpoint)
                    logger.info("checkpoint published", metadata: ["path": "\(path)", "version": "\(v)"])
                } catch { throw UserFacingError("\(error)") }
            }
        }
    }
}

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Score every row of a CSV as the newest point of its window.")

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
            _ = table.forwardFill()
            let (n, f, l) = (table.rows, c.metrics.count, c.seqLen)
            var lines = [ScoredRow.csvHeader(metrics: c.metrics)]
            for k in 0..<min(n, l - 1) { lines.append(ScoredRow(timestamp: table.timestamps[k], status: "warming_up", modelVersion: c.version).csvLine(features: f)) }
            var state = KeyScoreState()
            var start = l - 1
            while start < n {
                let end = min(n, start + 2048)
                let windows = Tensor.stack((start..<end).map { table.values.slice(axis: 0, ($0 - l + 1)..<($0 + 1)) }, axis: 0)
                let errors = pipeline.errors(windows)
                for (j, k) in (start..<end).enumerated() {
                    let s = pipeline.score(errors: errors.slice(axis: 0, j..<(j + 1)).reshaped([l, f]),
                                           raw: windows.slice(axis: 0, j..<(j + 1)).reshaped([l, f]), state: &state)
                    lines.append(ScoredRow(timestamp: table.timestamps[k], unified: s.unified, features: s.features, errors: s.newestErrors,
                                           status: "scored", modelVersion: c.version).csvLine(features: f))
                }
                start = end
            }
            try writeText(lines.joined(separator: "\n") + "\n", to: output)
        }
    }
}

struct Backtest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream a CSV through train / score / retrain as the daemon would, by the rows' timestamps.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var selection: PipelineSelection
    @Option(help: "Configuration YAML.") var config: String
    @Option(help: "CSV with a timestamp column and the pipeline's metric columns.") var input: String
    @Option(help: "Output CSV (standard output when omitted).") var output: String?
    @Option(help: "Override the score mode: numalogic or adaptive.") var mode: String?
    @Option(help: "A 0/1 label column to evaluate against (precision, recall, F1, PR AUC).") var labelColumn: String?
    @Option(help: "Write the evaluation report as JSON to this file.") var report: String?

    func run() throws {
        try AEFlow.setUp(global)
        try runCatching {
            let logger = Logger(label: "aeflow.backtest")
            let cfg = try loadConfig(config)
            let (stream, p) = try selection.resolve(cfg)
            var table: MetricTable
            do { table = try MetricTable.load(path: input, metrics: p.metrics, labelColumn: labelColumn) } catch { throw UserFacingError("\(error)") }
            var conf = p.numalogicConf
            if let mode {
                guard let m = ScoreConfig.Mode(rawValue: mode) else { throw UserFacingError("--mode must be numalogic or adaptive, got \"\(mode)\"") }
                conf.score.mode = m
            }
            let bt = Scoring.Backtest(conf: conf, windowSize: stream.windowSize, pipelineID: p.pipelineID, progress: { done, total, trainings in
                logger.info("backtest progress", metadata: ["rows": "\(done)", "of": "\(total)", "percent": "\(100 * done / max(total, 1))",
                                                            "trainings": "\(trainings)"])
            }, trainingCallbacks: [TrainingProgress(style: .lines, logEveryNEpochs: conf.trainer.logFreq, label: "backtest")])
            let result: Scoring.Backtest.Result
            do { result = try bt.run(table) } catch { throw UserFacingError("\(error)") }
            let f = p.metrics.count
            try writeText(([ScoredRow.csvHeader(metrics: p.metrics)] + result.rows.map { $0.csvLine(features: f) }).joined(separator: "\n") + "\n",
                          to: output)
            logger.info("backtest finished", metadata: ["rows": "\(result.rows.count)", "trainings": "\(result.trainings.count)",
                                                        "filled_cells": "\(result.filledCells)", "mode": "\(conf.score.mode.rawValue)"])
            if let labels = table.labels {
                let scored = result.rows.indices.filter { result.rows[$0].unified != nil }
                let r = DetectionReport.evaluate(scores: scored.map { result.rows[$0].unified! }, labels: scored.map { labels[$0] },
                                                 threshold: result.defaultThreshold)
                let json = JSONValue.object(JSONObject([
                    ("mode", .string(conf.score.mode.rawValue)), ("threshold", .double(Double(r.threshold))),
                    ("precision", .double(r.precision)), ("recall", .double(r.recall)), ("f1", .double(r.f1)),
                    ("pr_auc", .double(r.prAUC)), ("positives", .int(Int64(r.positives))), ("scored", .int(Int64(r.scored))),
                    ("trainings", .int(Int64(result.trainings.count))),
                ])).serialized()
                logger.info("evaluation", metadata: ["precision": "\(r.precision)", "recall": "\(r.recall)", "f1": "\(r.f1)",
                                                     "pr_auc": "\(r.prAUC)", "threshold": "\(r.threshold)"])
                if let report { try writeText(json + "\n", to: report) }
            }
        }
    }
}
