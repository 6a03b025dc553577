import ArgumentParser
import Stage
import Foundation
import Scoring
import TensorCore

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "checkpoint", abstract: "Inspect or verify checkpoint files.",
                                                    subcommands: [Inspect.self, Verify.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a checkpoint's metadata and tensors (validating it fully).")
        @Argument(help: "Checkpoint file.") var file: String

        func run() throws {
            try runCatching {
                let (c, _): (Checkpoint, ScoringPipeline)
                do { (c, _) = try Checkpoint.load(path: file) } catch { throw UserFacingError("\(error)") }
                let f = c.file()
                var out = "file: \(file)\nformat: \(Checkpoint.format)\nversion: \(c.version)\ncreated_at: \(c.createdAt)\n"
                out += "pipeline_id: \(c.pipelineID)\nkey: \(c.key.joined(separator: ":"))\nmetrics: \(c.metrics.joined(separator: ", "))\n"
                out += "seq_len: \(c.seqLen)\nmodel: \(c.model.name) \(JSONValue.object(c.model.conf).serialized())\n"
                out += "preprocess: \(c.preprocess.map(\.name).joined(separator: " → "))\nthreshold: \(c.threshold.name)\n"
                out += "postprocess: \(c.postprocess?.name ?? "none")\nscore: \(c.score.json.serialized())\n"
                out += "train: \(JSONValue.object(c.train).serialized())\ndata_sha256: \(f.metadata["data_sha256"] ?? "")\ntensors:\n"
                for n in f.names { out += "  \(n) \(f[n]!.dtype.rawValue) \(f[n]!.shape)\n" }
                try writeText(out, to: nil)
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Exit 0 when a checkpoint loads and validates, 1 with the reason otherwise.")
        @Argument(help: "Checkpoint files.") var files: [String]

        func run() throws {
            var bad = 0
            for file in files {
                do {
                    let (c, _) = try Checkpoint.load(path: file)
                    try writeText("ok \(file) (\(c.model.name), version \(c.version), \(c.metrics.count) metrics)\n", to: nil)
                } catch {
                    FileHandleStandardError.write("aeflow: \(error)\n")
                    bad += 1
                }
            }
            if bad > 0 { throw ExitCode(1) }
        }
    }
}

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Validate a configuration or print the defaults.",
                                                    subcommands: [Validate.self, Defaults.self])

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load and check a configuration file; errors name the key path.")
        @Argument(help: "Configuration YAML.") var file: String
        @Flag(help: "Do not check that files the configuration names (CURVE keys) exist here (a config for another machine).")
        var noFileChecks = false

        func run() throws {
            try runCatching {
                let c: AEFlowConfig
                do { c = try AEFlowConfig.load(path: file, checkFiles: !noFileChecks) } catch { throw UserFacingError("configuration: \(error)") }
                var out = "ok \(file)\n"
                for s in c.streams {
                    for p in s.pipelines {
                        out += "  stream \(s.configID) (window \(s.windowSize), keys \(s.compositeKeys.joined(separator: ","))): pipeline \(p.pipelineID) "
                        out += "\(p.numalogicConf.model.name) on \(p.metrics.joined(separator: ", ")), score mode \(p.numalogicConf.score.mode.rawValue)\n"
                        if let q = p.prometheus?.queries, let store = c.prometheus {
                            out += "    history from \(store.endpoint.url): \(zip(p.metrics, q).map { "\($0)=\($1)" }.joined(separator: "; "))\n"
                        }
                        let t = p.numalogicConf.trainer
                        if let rows = t.unreachableTrainSize {
                            out += "  warning: stream \(s.configID) pipeline \(p.pipelineID): train_hours \(t.trainHours) at data_freq_sec \(t.dataFreqSec) "
                            out += "holds at most \(rows) rows, below min_train_size \(t.minTrainSize): its keys would never train\n"
                        }
                    }
                }
                if let w = c.remoteWrite { out += "  scores written back to \(w.endpoint.url) (remote write)\n" }
                if !c.ignoredSections.isEmpty { out += "  ignored numalogic sections: \(c.ignoredSections.joined(separator: ", "))\n" }
                try writeText(out, to: nil)
            }
        }
    }

    struct Defaults: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the embedded default configuration (pipelines/default.yaml).")
        func run() throws { try writeText(AEFlowConfig.embeddedDefaultYAML, to: nil) }
    }
}
