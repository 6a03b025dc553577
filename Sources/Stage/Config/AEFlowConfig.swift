import Foundation
import Scoring
import SystemCalls
import TensorCore

/// A ZeroMQ socket in the config: `{endpoint, type, bind, topics}`.
public struct SocketConfig: Equatable, Sendable {
    public enum Kind: String, Sendable { case sub, pull, pub, push }
    public var endpoint: String
    public var type: Kind
    public var bind: Bool
    public var topics: [String]

    public init(endpoint: String, type: Kind, bind: Bool, topics: [String] = [""]) {
        (self.endpoint, self.type, self.bind, self.topics) = (endpoint, type, bind, topics)
    }

    /// The socket at the other end: same endpoint, the opposite of bind/connect, the matching type
    /// (push ↔ pull, pub ↔ sub).
    public var peer: SocketConfig {
        let kind: Kind = switch type { case .push: .pull; case .pull: .push; case .pub: .sub; case .sub: .pub }
        return SocketConfig(endpoint: endpoint, type: kind, bind: !bind)
    }

    static func read(_ value: JSONValue?, path: String, allowed: [Kind], defaults: SocketConfig) throws(ConfigReadError) -> SocketConfig {
        var r = try JSONObjectReader(value, path: path)
        let endpoint = try r.string("endpoint", default: defaults.endpoint)
        guard endpoint.hasPrefix("tcp://") || endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") else {
            throw ConfigReadError(path: r.child("endpoint"), reason: "expected a tcp://, ipc:// or inproc:// endpoint, got \"\(endpoint)\"")
        }
        let t = try r.string("type", default: defaults.type.rawValue)
        guard let kind = Kind(rawValue: t), allowed.contains(kind) else {
            throw ConfigReadError(path: r.child("type"), reason: "expected \(allowed.map(\.rawValue).joined(separator: " or ")), got \"\(t)\"")
        }
        let bind = try r.bool("bind", default: defaults.bind)
        let topics = try r.strings("topics", default: defaults.topics)
        if kind != .sub && r.has("topics") && topics != [""] {
            throw ConfigReadError(path: r.child("topics"), reason: "only sub sockets take topic filters")
        }
        try r.finish()
        return SocketConfig(endpoint: endpoint, type: kind, bind: bind, topics: topics)
    }
}

/// One ML pipeline of a stream (numalogic's `MLPipelineConf`, plus AEFlow's `model_scope` and `prometheus`).
public struct MLPipelineConf: Equatable, Sendable {
    public enum ModelScope: String, Sendable { case key, pipeline }
    public var pipelineID: String
    public var metrics: [String]
    public var modelScope: ModelScope
    public var numalogicConf: NumalogicConf
    /// Where its history is in the store, when the stream's source is `prometheus`.
    public var prometheus: PrometheusSource?
}

/// One stream (numalogic's `StreamConf`).
public struct StreamConf: Equatable, Sendable {
    /// numalogic's data connectors; only `prometheus` has a meaning here (history from `prometheus_conf`).
    public enum Source: String, Sendable { case druid, prometheus, redis, rds }
    public var configID: String
    public var source: Source = .druid
    public var windowSize: Int
    public var compositeKeys: [String]
    public var pipelines: [MLPipelineConf]

    public func pipeline(_ id: String) -> MLPipelineConf? { pipelines.first { $0.pipelineID == id } }
}

/// The whole configuration (ARCHITECTURE.md §6): AEFlow's `inputs`, `outputs`, `http`, `store`, `history`,
/// `retrain` sections and numalogic's `stream_confs`. Unknown keys are refused with their key path.
public struct AEFlowConfig: Equatable, Sendable {
    public struct Outputs: Equatable, Sendable {
        public var scores: SocketConfig
        public var trainRequests: SocketConfig
        public var deadLetter: SocketConfig?
        /// Accepted input forwarded verbatim to a separate `aeflow retrain` process (its history feed);
        /// nil disables it. Unused when the retrain stage runs in the daemon's process (`--with-retrain`).
        public var history: SocketConfig?
    }
    public struct HTTP: Equatable, Sendable { public var address: String; public var port: Int; public var bearerToken: String? }
    public struct Store: Equatable, Sendable {
        public var path: String; public var keepVersions: Int; public var pollIntervalMs: Int; public var maxModels: Int = 10_000
        /// How long a starting process waits for the models already in the store before it reports ready.
        public var preloadTimeoutSeconds: Double = 120
    }
    /// The retrain stage's point history (SQLite).
    public struct History: Equatable, Sendable {
        public var path: String
        public var maxRowsPerKey: Int
        /// Where a separate `aeflow retrain` reads points: by default the daemon's `outputs.history`
        /// (connecting where it binds); or subscriptions of its own to the publishers' stream.
        public var inputs: [SocketConfig]
        /// Points waiting to be written before new ones are dropped (and counted).
        public var queueCapacity: Int = 1_000_000
    }
    /// The retrain stage's scheduling, training pool, validation gate and endpoints.
    public struct Retrain: Equatable, Sendable {
        public var concurrency: Int
        public var threadsPerTraining: Int
        /// How often the store is scanned for keys that need a model (also on every event).
        public var scanIntervalSeconds: Double = 5
        /// A new version is refused when its reconstruction loss on the training data exceeds this factor
        /// of the live version's loss on the same data.
        public var maxLossRatio: Double = 1.5
        /// Trainings start only while the estimated working memory of those running, plus the new one,
        /// stays within this many MiB (one always may run).
        public var memoryBudgetMB: Int = 2048
        /// Where a separate `aeflow retrain` reads train requests: by default the daemon's
        /// `outputs.train_requests` (connecting where it binds).
        public var requests: SocketConfig?
        /// The separate retrain process's HTTP endpoints (metrics, health, `POST /v1/retrain`).
        public var http: HTTP
    }
    /// Per-key state and input policies (AEFlow's own section).
    public struct Windows: Equatable, Sendable {
        public enum MissingPolicy: String, Sendable { case reject, previous, zero }
        public var maxKeys: Int = 100_000
        public var idleTimeoutSeconds: Double = 86_400
        public var duplicatePolicy: DuplicatePolicy = .replace
        public var latePolicy: LatePolicy = .drop
        public var missingPolicy: MissingPolicy = .previous
        public var maxMessageBytes: Int = 1 << 20
        /// Points further ahead of the wall clock than this are rejected as `future`.
        public var maxFutureSeconds: Double = 86_400
        /// Where every key's window and score statistics are written at shutdown and read back at start (nil: off).
        public var snapshotPath: String? = "var/windows.snapshot"
        /// Scoring workers, each owning a share of the keys (by key hash) with their windows and models; 0: one per core.
        public var workers: Int = 0
        public init() {}

        /// `workers` resolved: 0 means the cores this process may run on.
        public var resolvedWorkers: Int { workers > 0 ? workers : max(1, ProcessInfo.processInfo.activeProcessorCount) }
    }

    /// CURVE on every ZeroMQ socket (AEFlow's own section): file paths, read when sockets are opened.
    public struct Curve: Equatable, Sendable {
        /// This process's Z85 secret key (its public key is derived from it).
        public var secretKeyFile: String
        /// Files with one Z85 public key per line, or directories of `*.key` files: the clients a bound
        /// socket accepts (this process's own key is always accepted, so a daemon and its retrain stage may
        /// share one identity).
        public var allowedClients: [String]
        /// The public key of the peers this process connects to (default: its own).
        public var serverKeyFile: String?
    }

    public var inputs: [SocketConfig]
    public var outputs: Outputs
    public var curve: Curve?
    public var http: HTTP
    public var store: Store
    public var history: History
    public var retrain: Retrain
    public var windows = Windows()
    public var streams: [StreamConf]
    /// numalogic's `prometheus_conf`: the store streams with `source: prometheus` read history from (nil: none).
    public var prometheus: PrometheusConf?
    /// Scores written back to a Prometheus-compatible store (nil: off).
    public var remoteWrite: RemoteWriteConf?

    /// numalogic sections with no meaning in AEFlow (its registry and other data connectors); accepted so that a
    /// numalogic config loads unchanged, and reported by `config validate`.
    public static let ignoredNumalogicSections = ["redis_conf", "registry_conf", "druid_conf", "rds_conf"]
    public private(set) var ignoredSections: [String] = []

    /// The stream for `configID`, falling back to `default` as numalogic does.
    public func stream(_ configID: String?) -> StreamConf? {
        streams.first { $0.configID == configID } ?? streams.first { $0.configID == "default" } ?? (configID == nil ? streams.first : nil)
    }

    static let sections = ["inputs", "outputs", "http", "store", "history", "retrain", "security", "windows", "stream_confs",
                           "prometheus_conf", "remote_write"]

    public static func read(_ root: JSONValue, source: String) throws(ConfigReadError) -> AEFlowConfig {
        var r = try JSONObjectReader(root, path: "")
        try r.expect(sections + ignoredNumalogicSections)
        let inputDefault = SocketConfig(endpoint: "tcp://127.0.0.1:5555", type: .sub, bind: true)
        let inputs: [SocketConfig]
        if r.has("inputs") {
            guard r.value("inputs")?.arrayValue?.isEmpty != true else {
                throw ConfigReadError(path: "inputs", reason: "must list at least one input socket (omit the key for the default)")
            }
            inputs = try r.array("inputs").enumerated().map { (i, v) throws(ConfigReadError) in
                try SocketConfig.read(v, path: "inputs[\(i)]", allowed: [.sub, .pull], defaults: inputDefault)
            }
        } else {
            inputs = [inputDefault]
        }
        var o = try r.object("outputs")
        let outputs = Outputs(
            scores: try SocketConfig.read(o.value("scores"), path: o.child("scores"), allowed: [.pub, .push],
                                          defaults: SocketConfig(endpoint: "tcp://127.0.0.1:5556", type: .pub, bind: true)),
            trainRequests: try SocketConfig.read(o.value("train_requests"), path: o.child("train_requests"), allowed: [.push, .pub],
                                                 defaults: SocketConfig(endpoint: "ipc://var/aeflow-train.ipc", type: .push, bind: true)),
            deadLetter: try {
                () throws(ConfigReadError) -> SocketConfig? in
                guard let v = o.value("dead_letter"), v != .null else { return nil }
                return try SocketConfig.read(v, path: o.child("dead_letter"), allowed: [.pub, .push],
                                             defaults: SocketConfig(endpoint: "tcp://127.0.0.1:5557", type: .pub, bind: true))
            }(),
            history: try {
                () throws(ConfigReadError) -> SocketConfig? in
                let d = SocketConfig(endpoint: "ipc://var/aeflow-history.ipc", type: .push, bind: true)
                guard o.has("history") else { return d }
                guard let v = o.value("history"), v != .null else { return nil }
                return try SocketConfig.read(v, path: o.child("history"), allowed: [.push, .pub], defaults: d)
            }())
        try o.finish()
        var h = try r.object("http")
        let http = HTTP(address: try h.string("address", default: "127.0.0.1"), port: try h.int("port", default: 8490, range: 0...65535),
                        bearerToken: try nonEmptyToken(&h))
        try h.finish()
        var s = try r.object("store")
        var store = Store(path: try s.string("path", default: "var/models"), keepVersions: try s.int("keep_versions", default: 5, range: 1...10_000),
                          pollIntervalMs: try s.int("poll_interval_ms", default: 2000, range: 10...3_600_000),
                          maxModels: try s.int("max_models", default: 10_000, range: 1...10_000_000))
        store.preloadTimeoutSeconds = try s.double("preload_timeout_s", default: 120, range: 0...86_400)
        try s.finish()
        var hi = try r.object("history")
        var history = History(path: try hi.string("path", default: "var/history.sqlite"),
                              maxRowsPerKey: try hi.int("max_rows_per_key", default: 20_000, range: 1...100_000_000), inputs: [])
        if hi.has("inputs") {
            history.inputs = try hi.array("inputs").enumerated().map { (i, v) throws(ConfigReadError) in
                try SocketConfig.read(v, path: "\(hi.child("inputs"))[\(i)]", allowed: [.sub, .pull],
                                      defaults: SocketConfig(endpoint: "ipc://var/aeflow-history.ipc", type: .pull, bind: false))
            }
        } else if let feed = outputs.history {
            history.inputs = [feed.peer]
        }
        history.queueCapacity = try hi.int("queue_capacity", default: 1_000_000, range: 1_000...100_000_000)
        try hi.finish()
        var re = try r.object("retrain")
        var retrain = Retrain(concurrency: try re.int("concurrency", default: 1, range: 1...256),
                              threadsPerTraining: try re.int("threads_per_training", default: 1, range: 1...256), http: HTTP(address: "127.0.0.1", port: 8491))
        retrain.scanIntervalSeconds = try re.double("scan_interval_s", default: 5, range: 0.01...86_400)
        retrain.maxLossRatio = try re.double("max_loss_ratio", default: 1.5, range: 1...1e9)
        retrain.memoryBudgetMB = try re.int("memory_budget_mb", default: 2048, range: 1...10_000_000)
        if re.has("requests") {
            if let v = re.value("requests"), v != .null {
                retrain.requests = try SocketConfig.read(v, path: re.child("requests"), allowed: [.pull, .sub], defaults: outputs.trainRequests.peer)
            }
        } else {
            retrain.requests = outputs.trainRequests.peer
        }
        var rh = try re.object("http")
        retrain.http = HTTP(address: try rh.string("address", default: "127.0.0.1"), port: try rh.int("port", default: 8491, range: 0...65535),
                            bearerToken: try nonEmptyToken(&rh) ?? http.bearerToken)
        try rh.finish()
        try re.finish()
        var curve: Curve?
        var sec = try r.object("security")
        if sec.has("curve"), let v = sec.value("curve"), v != .null {
            var c = try JSONObjectReader(v, path: sec.child("curve"))
            curve = Curve(secretKeyFile: try c.string("secret_key_file"), allowedClients: try c.strings("allowed_clients", default: []),
                          serverKeyFile: try c.optionalString("server_key_file"))
            try c.finish()
        }
        try sec.finish()
        var w = try r.object("windows")
        var windows = Windows()
        windows.maxKeys = try w.int("max_keys", default: 100_000, range: 1...100_000_000)
        windows.idleTimeoutSeconds = try w.double("idle_timeout_s", default: 86_400, range: 1...1e9)
        let dup = try w.string("duplicate_policy", default: "replace")
        guard let d = DuplicatePolicy(rawValue: dup) else { throw ConfigReadError(path: w.child("duplicate_policy"), reason: "expected replace or drop, got \"\(dup)\"") }
        windows.duplicatePolicy = d
        let late = try w.string("late_policy", default: "drop")
        guard let l = LatePolicy(rawValue: late) else { throw ConfigReadError(path: w.child("late_policy"), reason: "expected drop or insert, got \"\(late)\"") }
        windows.latePolicy = l
        let miss = try w.string("missing_policy", default: "previous")
        guard let m = Windows.MissingPolicy(rawValue: miss) else {
            throw ConfigReadError(path: w.child("missing_policy"), reason: "expected reject, previous or zero, got \"\(miss)\"")
        }
        windows.missingPolicy = m
        windows.maxMessageBytes = try w.int("max_message_bytes", default: 1 << 20, range: 64...(256 << 20))
        windows.maxFutureSeconds = try w.double("max_future_s", default: 86_400, range: 0...(100 * 365 * 86_400))
        if w.has("snapshot_path") {
            windows.snapshotPath = try w.value("snapshot_path") == .null ? nil : w.string("snapshot_path")
        }
        windows.workers = try w.int("workers", default: 0, range: 0...256)
        try w.finish()
        let prometheus = r.has("prometheus_conf") && r.value("prometheus_conf") != .null
            ? try PrometheusConf.read(r.value("prometheus_conf"), path: "prometheus_conf") : nil
        let remoteWrite = r.has("remote_write") && r.value("remote_write") != .null
            ? try RemoteWriteConf.read(r.value("remote_write"), path: "remote_write") : nil
        var streams: [StreamConf] = []
        if r.has("stream_confs") {
            var sc = try r.object("stream_confs")
            for id in sc.object.keys {
                streams.append(try readStream(sc.value(id), path: sc.child(id), id: id))
            }
            try sc.finish()
        } else {
            streams = try AEFlowConfig.embeddedDefault().streams
        }
        var ignored: [String] = []
        for k in ignoredNumalogicSections where r.has(k) {
            _ = r.value(k)
            ignored.append(k)
        }
        try r.finish()
        var c = AEFlowConfig(inputs: inputs, outputs: outputs, curve: curve, http: http, store: store, history: history, retrain: retrain,
                             windows: windows, streams: streams)
        c.ignoredSections = ignored
        c.prometheus = prometheus
        c.remoteWrite = remoteWrite
        for s in streams where s.source == .prometheus {
            guard prometheus != nil else {
                throw ConfigReadError(path: "stream_confs.\(s.configID).source",
                                      reason: "is prometheus, but there is no prometheus_conf section to read history from")
            }
            guard !s.compositeKeys.isEmpty else {
                throw ConfigReadError(path: "stream_confs.\(s.configID).composite_keys",
                                      reason: "must name the label(s) of the key for a stream whose source is prometheus")
            }
        }
        return c
    }

    /// A bearer token, when set, must not be empty (an empty one would lock every client out).
    static func nonEmptyToken(_ r: inout JSONObjectReader) throws(ConfigReadError) -> String? {
        let t = try r.optionalString("bearer_token")
        if let t, t.allSatisfy(\.isWhitespace) {
            throw ConfigReadError(path: r.child("bearer_token"), reason: "must not be empty (omit it to turn authentication off)")
        }
        return t
    }

    static func readStream(_ value: JSONValue?, path: String, id: String) throws(ConfigReadError) -> StreamConf {
        var r = try JSONObjectReader(value, path: path)
        try r.expect(["config_id", "source", "window_size", "composite_keys", "ml_pipelines"])
        let configID = try r.string("config_id", default: id)
        // numalogic's data connector (druid by default): `prometheus` reads history from `prometheus_conf`; the others
        // have no meaning here.
        let sourceName = try r.string("source", default: "druid")
        guard let source = StreamConf.Source(rawValue: sourceName) else {
            throw ConfigReadError(path: r.child("source"), reason: "expected druid, prometheus, redis or rds, got \"\(sourceName)\"")
        }
        let window = try r.int("window_size", default: 12, range: 1...100_000)
        // Absent: any number of key values; given: exactly these (an empty list names no key and is refused).
        let keys = r.has("composite_keys") ? try r.stringList("composite_keys", minimum: 1) : []
        var mp = try r.object("ml_pipelines")
        guard !mp.object.keys.isEmpty else { throw ConfigReadError(path: r.child("ml_pipelines"), reason: "must define at least one pipeline") }
        var pipelines: [MLPipelineConf] = []
        for pid in mp.object.keys {
            var p = try JSONObjectReader(mp.value(pid), path: mp.child(pid))
            try p.expect(["pipeline_id", "metrics", "model_scope", "numalogic_conf", "prometheus"])
            let pipelineID = try p.string("pipeline_id", default: pid)
            let metrics = try p.stringList("metrics", minimum: 1)
            guard !metrics.isEmpty, Set(metrics).count == metrics.count else {
                throw ConfigReadError(path: p.child("metrics"), reason: "must list one or more distinct metric names")
            }
            let scope = try p.string("model_scope", default: "key")
            guard let modelScope = MLPipelineConf.ModelScope(rawValue: scope) else {
                throw ConfigReadError(path: p.child("model_scope"), reason: "expected key or pipeline, got \"\(scope)\"")
            }
            let nc = try NumalogicConf.read(p.value("numalogic_conf"), path: p.child("numalogic_conf"))
            if p.has("prometheus") && source != .prometheus {
                throw ConfigReadError(path: p.child("prometheus"), reason: "is read only when the stream's source is prometheus")
            }
            let prom = source == .prometheus ? try PrometheusSource.read(p.value("prometheus"), path: p.child("prometheus"), metrics: metrics) : nil
            try p.finish()
            // The window and the model must agree, as must the metric count and the model's features.
            var rng = RandomGenerator(seed: 0)
            if let model = try? Autoencoders_make(nc.model, &rng) {
                guard model.seqLen == window else {
                    throw ConfigReadError(path: "\(mp.child(pid)).numalogic_conf.model.conf.seq_len",
                                          reason: "is \(model.seqLen) but the stream's window_size is \(window)")
                }
                guard model.nFeatures == metrics.count else {
                    throw ConfigReadError(path: "\(mp.child(pid)).numalogic_conf.model.conf",
                                          reason: "the model takes \(model.nFeatures) features but \(metrics.count) metrics are listed")
                }
            }
            let score = nc.score
            for (m, _) in score.direction where m != "*" && !metrics.contains(m) {
                throw ConfigReadError(path: "\(mp.child(pid)).numalogic_conf.score.direction.\(m)", reason: "is not one of the pipeline's metrics")
            }
            for (m, _) in score.minDeviation where m != "*" && !metrics.contains(m) {
                throw ConfigReadError(path: "\(mp.child(pid)).numalogic_conf.score.min_deviation.\(m)", reason: "is not one of the pipeline's metrics")
            }
            pipelines.append(MLPipelineConf(pipelineID: pipelineID, metrics: metrics, modelScope: modelScope, numalogicConf: nc, prometheus: prom))
        }
        try mp.finish()
        try r.finish()
        var stream = StreamConf(configID: configID, windowSize: window, compositeKeys: keys, pipelines: pipelines)
        stream.source = source
        return stream
    }

    /// The compiled-in `pipelines/default.yaml`.
    public static var embeddedDefaultYAML: String { String(decoding: PackageResources.default_yaml, as: UTF8.self) }

    /// The embedded default configuration (its `stream_confs` is present, so reading it never recurses).
    public static func embeddedDefault() throws(ConfigReadError) -> AEFlowConfig {
        try read(YAMLDocument.parse(embeddedDefaultYAML, source: "<embedded default>"), source: "<embedded default>")
    }

    /// Loads a YAML file (or the embedded default when `path` is nil).
    /// `checkFiles` false skips checking that referenced files exist (validating a config for another machine).
    public static func load(path: String?, checkFiles: Bool = true) throws(ConfigReadError) -> AEFlowConfig {
        guard let path else { return try embeddedDefault() }
        let bytes: [UInt8]
        do {
            bytes = try SafeTensorsFile.readBytes(contentsOf: path, limit: YAMLDocument.maximumBytes)
        } catch {
            throw ConfigReadError(path: path, reason: "cannot be read: \(error.problem)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw ConfigReadError(path: path, reason: "is not UTF-8 text") }
        do {
            var c = try read(try EnvironmentExpansion.expand(try YAMLDocument.parse(text, source: path)), source: path)
            c.resolvePaths(relativeTo: path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : ".")
            if checkFiles { try c.checkKeyFiles() }
            return c
        } catch {
            throw ConfigReadError(path: error.path.isEmpty || error.path == path ? path : "\(path): \(error.path)", reason: error.reason)
        }
    }

    /// Relative paths in a configuration file — `store.path`, `history.path`, `ipc://` endpoints and the CURVE key
    /// files — are relative to the file's own directory (README "Configuration"), so a service finds the same
    /// files whatever its working directory. Without a file (the embedded default) they are relative to the
    /// working directory.
    mutating func resolvePaths(relativeTo base: String) {
        func path(_ p: String) -> String { p.hasPrefix("/") || base == "." ? p : base + "/" + p }
        func socket(_ c: inout SocketConfig) {
            guard c.endpoint.hasPrefix("ipc://") else { return }
            c.endpoint = "ipc://" + path(String(c.endpoint.dropFirst(6)))
        }
        store.path = path(store.path)
        history.path = path(history.path)
        windows.snapshotPath = windows.snapshotPath.map(path)
        for i in inputs.indices { socket(&inputs[i]) }
        socket(&outputs.scores)
        socket(&outputs.trainRequests)
        if outputs.deadLetter != nil { socket(&outputs.deadLetter!) }
        if outputs.history != nil { socket(&outputs.history!) }
        for i in history.inputs.indices { socket(&history.inputs[i]) }
        if retrain.requests != nil { socket(&retrain.requests!) }
        if var c = curve {
            c.secretKeyFile = path(c.secretKeyFile)
            c.allowedClients = c.allowedClients.map(path)
            c.serverKeyFile = c.serverKeyFile.map(path)
            curve = c
        }
    }

    /// The CURVE key files must exist when the configuration is loaded (so `config validate` finds a typo,
    /// not the service at its first connection).
    func checkKeyFiles() throws(ConfigReadError) {
        guard let c = curve else { return }
        var files = [("security.curve.secret_key_file", c.secretKeyFile)]
        files += c.allowedClients.enumerated().map { ("security.curve.allowed_clients[\($0.offset)]", $0.element) }
        if let s = c.serverKeyFile { files.append(("security.curve.server_key_file", s)) }
        for (key, file) in files {
            if let e = Files.readability(file) { throw ConfigReadError(path: key, reason: "\(file) cannot be read: \(e.reason)") }
        }
    }
}

import Autoencoders

private func Autoencoders_make(_ spec: ModelSpec, _ rng: inout RandomGenerator) throws -> any Autoencoder {
    try ModelFactory.make(spec, using: &rng)
}


extension InputDecoder {
    /// The decoder every entry point uses, with the configuration's limits.
    public init(_ windows: AEFlowConfig.Windows) {
        self.init()
        maximumBodyBytes = windows.maxMessageBytes
        maximumFutureMs = Int64(windows.maxFutureSeconds * 1000)
    }
}

#if canImport(Glibc)
import Glibc
#endif
