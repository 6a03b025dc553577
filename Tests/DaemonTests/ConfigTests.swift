import Daemon
import Stage
import Foundation
import Scoring
import Testing
import TestSupport
import TensorCore

private func load(_ yaml: String) throws(ConfigReadError) -> AEFlowConfig {
    try AEFlowConfig.read(try YAMLDocument.parse(yaml, source: "test.yaml"), source: "test.yaml")
}

private func error(_ yaml: String) -> String? {
    do {
        _ = try load(yaml)
        return nil
    } catch {
        return error.description
    }
}

@Suite struct ConfigTests {
    @Test func embeddedDefaultIsPipelinesDefaultYaml() throws {
        let root = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        let file = try String(contentsOf: root.appendingPathComponent("pipelines/default.yaml"), encoding: .utf8)
        #expect(AEFlowConfig.embeddedDefaultYAML == file)
        let c = try AEFlowConfig.embeddedDefault()
        #expect(c.inputs == [SocketConfig(endpoint: "tcp://127.0.0.1:5555", type: .sub, bind: true, topics: [""])])
        #expect(c.outputs.scores.endpoint == "tcp://127.0.0.1:5556" && c.outputs.deadLetter == nil)
        #expect(c.http.port == 8490 && c.store.keepVersions == 5 && c.history.maxRowsPerKey == 20_000 && c.retrain.concurrency == 1)
        let p = try #require(c.stream("anything")?.pipeline("default"))
        #expect(p.metrics == ["value"] && p.modelScope == .key)
        #expect(p.numalogicConf.model.name == "VanillaAE" && p.numalogicConf.trainer.minTrainSize == 200)
        #expect(p.numalogicConf.trainer.trainHours == 720 && p.numalogicConf.trainer.retrainGrowth == 2)
        #expect(p.numalogicConf.trainer.maxEpochs == 50 && p.numalogicConf.score.mode == .likelihood)
        #expect(p.numalogicConf.score.alertThreshold == 9 && p.numalogicConf.score.range == ScoreConfig.RangeRule(tolerance: 0.05, quantile: 0))
        #expect(p.numalogicConf.score.follow == ScoreConfig.Follow(halflife: 288) && p.numalogicConf.score.likelihood == ScoreConfig.Likelihood())
        #expect(p.numalogicConf.postprocess?.name == "TanhNorm")
        // An empty file means every default.
        #expect(try load("").streams == c.streams)
    }

    @Test func theRetrainStageConnectsWhereTheDaemonBindsUnlessToldOtherwise() throws {
        let c = try load("")
        #expect(c.outputs.history == SocketConfig(endpoint: "ipc://var/aeflow-history.ipc", type: .push, bind: true))
        #expect(c.history.inputs == [SocketConfig(endpoint: "ipc://var/aeflow-history.ipc", type: .pull, bind: false)])
        #expect(c.retrain.requests == SocketConfig(endpoint: "ipc://var/aeflow-train.ipc", type: .pull, bind: false))
        #expect(c.retrain.http.port == 8491 && c.retrain.scanIntervalSeconds == 5 && c.retrain.maxLossRatio == 1.5)
        #expect(c.retrain.memoryBudgetMB == 2048 && c.history.queueCapacity == 1_000_000)
        // A daemon publishing train requests on PUB is read with SUB; an own subscription replaces the feed.
        let custom = try load("""
            outputs: {train_requests: {endpoint: "tcp://0.0.0.0:7000", type: pub, bind: true}, history: null}
            history: {inputs: [{endpoint: "tcp://pub:5555", type: sub, bind: false, topics: [web]}]}
            retrain: {concurrency: 4, http: {port: 0, bearer_token: s3cret}, max_loss_ratio: 2}
            """)
        #expect(custom.outputs.history == nil)
        #expect(custom.retrain.requests == SocketConfig(endpoint: "tcp://0.0.0.0:7000", type: .sub, bind: false))
        #expect(custom.history.inputs == [SocketConfig(endpoint: "tcp://pub:5555", type: .sub, bind: false, topics: ["web"])])
        #expect(custom.retrain.concurrency == 4 && custom.retrain.http.bearerToken == "s3cret" && custom.retrain.maxLossRatio == 2)
        #expect(try load("retrain: {requests: null}").retrain.requests == nil)
        #expect(error("retrain: {requests: {endpoint: 'tcp://x:1', type: push}}")?.hasPrefix("retrain.requests.type: expected pull or sub") == true)
        #expect(error("retrain: {max_loss_ratio: 0.5}")?.hasPrefix("retrain.max_loss_ratio: must be in") == true)
        #expect(error("retrain: {scan_every: 1}")?.hasPrefix("retrain.scan_every: unknown key") == true)
        #expect(error("history: {inputs: [{endpoint: 'tcp://x:1', type: pub}]}")?.hasPrefix("history.inputs[0].type") == true)
    }

    /// The hostile and degenerate configurations an outside test campaign found validating (or hanging): each is
    /// now a typed error with its key path.
    @Test func hostileAndDegenerateConfigurationsAreRefused() throws {
        // Nested aliases ("billion laughs"): 9 levels of 9 references expand to 9^9 nodes.
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
        for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].enumerated() {
            let prev = ["a", "b", "c", "d", "e", "f", "g", "h"][i]
            bomb += "\(name): &\(name) [" + Array(repeating: "*\(prev)", count: 9).joined(separator: ", ") + "]\n"
        }
        #expect(throws: ConfigReadError.self) { _ = try YAMLDocument.parse(bomb, source: "bomb.yaml") }
        #expect(error(bomb)?.contains("expands to more than") == true)
        let big = "# " + String(repeating: "x", count: YAMLDocument.maximumBytes) + "\n"
        #expect((try? YAMLDocument.parse(big, source: "big.yaml")) == nil)
        let pipeline = { (body: String) in
            """
            stream_confs:
              s:
                window_size: 12
                \(body)
            """
        }
        let model = "numalogic_conf: {model: {name: VanillaAE, conf: {seq_len: 12, n_features: 1}}}"
        #expect(error(pipeline("ml_pipelines: {p: {metrics: value, \(model)}}"))?.contains("metrics: expected a list of strings") == true)
        #expect(error(pipeline("ml_pipelines: {p: {metrics: [], \(model)}}"))?.contains("metrics: must list at least 1") == true)
        #expect(error(pipeline("ml_pipelines: {}"))?.contains("stream_confs.s.ml_pipelines: must define at least one pipeline") == true)
        #expect(error(pipeline("composite_keys: []\n    ml_pipelines: {p: {metrics: [value], \(model)}}"))?.contains("composite_keys: must list") == true)
        #expect(error("inputs: []")?.hasPrefix("inputs: must list at least one") == true)
        #expect(error("http: {bearer_token: \"\"}")?.hasPrefix("http.bearer_token: must not be empty") == true)
        #expect(error("retrain: {http: {bearer_token: \" \"}}")?.hasPrefix("retrain.http.bearer_token: must not be empty") == true)
        let huge = pipeline("ml_pipelines: {p: {metrics: [value], numalogic_conf: {model: {name: VanillaAE, conf: {seq_len: 12, n_features: 1, encoder_layersizes: [1000000000000, 8]}}}}}")
        #expect(error(huge)?.contains("exceeds the limit") == true)
        #expect(error("windows: {max_future_s: -1}")?.hasPrefix("windows.max_future_s") == true)
    }

    /// Relative paths in a configuration file resolve against the file's directory; a CURVE key file that does
    /// not exist is a load error naming its key.
    @Test func relativePathsFollowTheFileAndKeyFilesMustExist() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("conf"), withIntermediateDirectories: true)
        try """
            outputs: {train_requests: {endpoint: "ipc://run/train.ipc", type: push, bind: true}}
            store: {path: models}
            history: {path: /abs/history.sqlite}
            """.write(toFile: dir.file("conf/a.yaml"), atomically: true, encoding: .utf8)
        let c = try AEFlowConfig.load(path: dir.file("conf/a.yaml"))
        #expect(c.store.path == dir.file("conf/models") && c.history.path == "/abs/history.sqlite")
        #expect(c.outputs.trainRequests.endpoint == "ipc://" + dir.file("conf/run/train.ipc"))
        #expect(c.outputs.history?.endpoint == "ipc://" + dir.file("conf/var/aeflow-history.ipc"), "defaults resolve too")
        #expect(c.retrain.requests?.endpoint == "ipc://" + dir.file("conf/run/train.ipc"))
        try "security: {curve: {secret_key_file: keys/missing.key_secret}}".write(toFile: dir.file("conf/b.yaml"), atomically: true, encoding: .utf8)
        do {
            _ = try AEFlowConfig.load(path: dir.file("conf/b.yaml"))
            Issue.record("a missing CURVE key file validated")
        } catch {
            #expect(error.description.contains("security.curve.secret_key_file") && error.description.contains("No such file"), "\(error)")
        }
    }

    /// An unknown key is reported (by its path) before any check across fields: here the model's sizes do not
    /// match the window and the encoder does not match the decoder, yet the misspelt keys are named first.
    @Test func unknownKeysComeBeforeCrossFieldChecks() {
        let yaml = { (extra: String, where_: String) in
            """
            stream_confs:
              s:
                window_size: 10
                \(where_ == "stream" ? extra : "")
                ml_pipelines:
                  p:
                    metrics: [a]
                    \(where_ == "pipeline" ? extra : "")
                    numalogic_conf:
                      model: {name: VanillaAE, conf: {seq_len: 12, n_features: 1, encoder_layersizes: [4, 2]}}
                      \(where_ == "numalogic" ? extra : "")
                      trainer: {pltrainer_conf: {max_epoch: 3}}
            """
        }
        #expect(error(yaml("", ""))?.hasPrefix("stream_confs.s.ml_pipelines.p.numalogic_conf.trainer.pltrainer_conf.max_epoch: unknown key") == true)
        #expect(error(yaml("treshold: {name: StdDevThreshold}", "numalogic"))?.hasPrefix("stream_confs.s.ml_pipelines.p.numalogic_conf.treshold: unknown key") == true)
        #expect(error(yaml("metric: [b]", "pipeline"))?.hasPrefix("stream_confs.s.ml_pipelines.p.metric: unknown key") == true)
        #expect(error(yaml("windowsize: 12", "stream"))?.hasPrefix("stream_confs.s.windowsize: unknown key") == true)
        #expect(error("htp: {port: 1}\n" + yaml("", ""))?.hasPrefix("htp: unknown key") == true)
    }

    @Test func unknownKeysAreRefusedWithTheirPath() {
        #expect(error("htp: {port: 1}")?.hasPrefix("htp: unknown key") == true)
        #expect(error("http: {prot: 1}")?.hasPrefix("http.prot: unknown key") == true)
        #expect(error("inputs: [{endpoint: 'tcp://127.0.0.1:1', type: sub, topic: [a]}]")?.hasPrefix("inputs[0].topic: unknown key") == true)
        let nested = """
        stream_confs:
          s:
            window_size: 12
            ml_pipelines:
              p:
                metrics: [a]
                numalogic_conf:
                  model: {name: VanillaAE, conf: {seq_len: 12, n_features: 1}}
                  trainer: {pltrainer_conf: {max_epoch: 3}}
        """
        #expect(error(nested)?.hasPrefix("stream_confs.s.ml_pipelines.p.numalogic_conf.trainer.pltrainer_conf.max_epoch: unknown key") == true)
    }

    @Test func valuesAreTypeCheckedAndCrossChecked() {
        #expect(error("http: {port: 70000}") == "http.port: must be in 0…65535, got 70000")
        #expect(error("http: {port: eighty}") == "http.port: expected an integer, got \"eighty\"")
        #expect(error("inputs: [{endpoint: 'udp://x', type: sub}]")?.contains("expected a tcp://, ipc:// or inproc:// endpoint") == true)
        #expect(error("inputs: [{type: pub}]") == "inputs[0].type: expected sub or pull, got \"pub\"")
        #expect(error("http: {port: 1}\nhttp: {port: 2}")?.contains("duplicated key") == true)
        let mismatch = """
        stream_confs:
          s:
            window_size: 10
            ml_pipelines:
              p:
                metrics: [a, b]
                numalogic_conf:
                  model: {name: VanillaAE, conf: {seq_len: 12, n_features: 2}}
        """
        #expect(error(mismatch) == "stream_confs.s.ml_pipelines.p.numalogic_conf.model.conf.seq_len: is 12 but the stream's window_size is 10")
        let badModel = mismatch.replacingOccurrences(of: "seq_len: 12", with: "seq_len: 10, encoder_layersizes: [4, 2]")
        #expect(error(badModel)?.contains("numalogic_conf.model: last layer size of the encoder (2) does not match") == true)
        let badThreshold = mismatch.replacingOccurrences(of: "window_size: 10", with: "window_size: 12")
            + "\n          threshold: {name: MedianThreshold}"
        #expect(error(badThreshold)?.contains("threshold.name: unknown threshold \"MedianThreshold\"") == true)
    }

    /// A numalogic config (its registry, connectors and Lightning keys included) loads unchanged.
    @Test func aNumalogicConfigCarriesOver() throws {
        let yaml = """
        stream_confs:
          druid-config:
            config_id: druid-config
            source: druid
            composite_keys: [namespace, app]
            window_size: 12
            ml_pipelines:
              pipeline1:
                pipeline_id: pipeline1
                metrics: [failed, degraded]
                numalogic_conf:
                  model: {name: Conv1dAE, conf: {seq_len: 12, in_channels: 2, enc_channels: [8, 4]}, stateful: true}
                  preprocess: [{name: LogTransformer, stateful: false, conf: {add_factor: 5}}, {name: StandardScaler}]
                  threshold: {name: MaxPercentileThreshold, conf: {max_inlier_percentile: 95}}
                  postprocess: {name: TanhNorm, stateful: false}
                  score: {window_agg: {method: EXP_MOVING_AVERAGE, conf: {beta: 0.6}}, feature_agg: {method: MAX},
                          adjust: {upper_limits: {failed: 80, degraded: 90}, window_agg: MEAN, feature_agg: MAX}}
                  trainer:
                    train_hours: 240
                    min_train_size: 2000
                    retrain_freq_hr: 8
                    retry_sec: 600
                    batch_size: 256
                    data_freq_sec: 60
                    pltrainer_conf: {accelerator: cpu, max_epochs: 40, log_freq: 10, check_val_every_n_epoch: 5, enable_progress_bar: false}
        redis_conf: {url: isbsvc-redis-isbs-redis-svc.default.svc, port: 26379, expiry: 360, master_name: mymaster}
        registry_conf: {name: RedisRegistry, model_expiry_sec: 172800, jitter_conf: {jitter_sec: 900, jitter_steps_sec: 120}}
        druid_conf: {url: "https://druid.example", endpoint: druid/v2/}
        """
        let c = try load(yaml)
        #expect(c.ignoredSections == ["redis_conf", "registry_conf", "druid_conf"])
        let s = try #require(c.stream("druid-config"))
        #expect(s.compositeKeys == ["namespace", "app"])
        let p = try #require(s.pipeline("pipeline1"))
        #expect(p.numalogicConf.preprocess.map(\.name) == ["LogTransformer", "StandardScaler"])
        #expect(p.numalogicConf.score.windowAgg == .expMovingAverage(beta: 0.6, biasCorrection: true))
        #expect(p.numalogicConf.score.adjust?.upperLimits.map(\.0) == ["failed", "degraded"])
        #expect(p.numalogicConf.trainer.retrainFreqHr == 8 && p.numalogicConf.trainer.maxEpochs == 40 && p.numalogicConf.trainer.logFreq == 10)
        // numalogic's lookup falls back to the "default" stream; this config has none.
        #expect(c.stream("other") == nil)
    }

    @Test func yamlScalarsResolveWithTheCoreSchema() throws {
        let v = try YAMLDocument.parse("a: 12\nb: 1.5\nc: true\nd: ~\ne: '12'\nf: 0x1F\ng: -3\nh: 1e-3\ni: text\nj: [1, two]", source: "t")
        let o = try #require(v.objectValue)
        #expect(o["a"] == .int(12) && o["b"] == .double(1.5) && o["c"] == .bool(true) && o["d"] == .null)
        #expect(o["e"] == .string("12") && o["f"] == .int(31) && o["g"] == .int(-3) && o["h"] == .double(0.001))
        #expect(o["i"] == .string("text") && o["j"] == .array([.int(1), .string("two")]))
        #expect(o.keys == ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
        #expect(throws: ConfigReadError.self) { try YAMLDocument.parse("x: .nan", source: "t") }
        #expect(throws: ConfigReadError.self) { try YAMLDocument.parse("x: [1, 2", source: "t") }
    }
}

@Suite struct StoreLayoutTests {
    @Test func keyDirectoriesAreSafeAndDistinct() {
        let hostile = [["../../etc"], ["a/b"], [".."], ["."], [""], [], ["a", "b"], ["a+b"], ["a:b"], ["é"], [String(repeating: "x", count: 500)]]
        var seen = Set<String>()
        for key in hostile {
            let d = CheckpointStore.directoryName(key)
            #expect(!d.contains("/") && d != "." && d != ".." && !d.isEmpty && d.utf8.count <= 200, "\(key) → \(d)")
            #expect(seen.insert(d).inserted, "\(key) collides")
        }
        #expect(CheckpointStore.directoryName(["../../etc"]) == "%2E%2E%2F%2E%2E%2Fetc")
        #expect(CheckpointStore.directoryName(["web", "eu"]) == "web+eu")
        #expect(CheckpointStore.version(ofFileName: "000042.safetensors") == 42)
        #expect(CheckpointStore.version(ofFileName: "tmp-000042.safetensors") == nil && CheckpointStore.version(ofFileName: "42.safetensors") == nil)
    }

    /// `${NAME}` / `${NAME:-default}` in string values: per-replica paths from one file.
    @Test func environmentVariablesExpandInStringValues() throws {
        let env = ["POD_NAME": "score-2", "EMPTY": ""]
        let e = { (s: String) throws(ConfigReadError) in try EnvironmentExpansion.expand(s, environment: env, path: "store.path") }
        #expect(try e("/var/lib/aeflow/${POD_NAME}/models") == "/var/lib/aeflow/score-2/models")
        #expect(try e("${MISSING:-fallback}/x") == "fallback/x")
        #expect(try e("${EMPTY:-unused}") == "")
        #expect(try e("a$$b$c") == "a$b$c")
        #expect(try e("no variables") == "no variables")
        do { _ = try e("/data/${MISSING}"); Issue.record("an unset variable was accepted") } catch {
            #expect(error.path == "store.path" && error.reason.contains("${MISSING}"), "\(error)")
        }
        #expect(throws: ConfigReadError.self) { try e("/data/${POD_NAME") }
        #expect(throws: ConfigReadError.self) { try e("/data/${BAD-NAME}") }
        // Through a file: the loaded configuration carries the expanded values, and an unset variable names its key.
        let dir = try TemporaryDirectory()
        try "store: {path: \"/srv/${HOME}/models\"}\n".write(toFile: dir.file("a.yaml"), atomically: true, encoding: .utf8)
        let c = try AEFlowConfig.load(path: dir.file("a.yaml"))
        #expect(c.store.path == "/srv/\(ProcessInfo.processInfo.environment["HOME"] ?? "")/models")
        try "history: {path: \"/srv/${AEFLOW_SURELY_UNSET_VARIABLE}/h.sqlite\"}\n".write(toFile: dir.file("b.yaml"), atomically: true, encoding: .utf8)
        do { _ = try AEFlowConfig.load(path: dir.file("b.yaml")); Issue.record("an unset variable was accepted") } catch {
            #expect("\(error)".contains("history.path") && "\(error)".contains("AEFLOW_SURELY_UNSET_VARIABLE"), "\(error)")
        }
    }
}
