import TensorCore

/// How to reach an HTTP endpoint of a metrics store (Prometheus, VictoriaMetrics): its URL, credentials, TLS,
/// timeout and retries. Shared by the history source (`prometheus_conf`) and the score writer (`remote_write`).
public struct StoreEndpoint: Equatable, Sendable {
    public enum Auth: Equatable, Sendable {
        case none
        case bearer(String)
        case basic(username: String, password: String)
    }
    public struct TLS: Equatable, Sendable {
        /// PEM file of the certificate authorities to trust in place of the system's.
        public var caFile: String?
        /// Accept any certificate (tests and private networks only).
        public var insecureSkipVerify = false
        public init() {}
    }
    public var url: String
    public var auth: Auth = .none
    public var tls = TLS()
    /// One request's limit, connection and answer included.
    public var timeoutSeconds: Double = 10
    /// Further attempts after a failed request (network error, timeout, 429 or 5xx), with exponential backoff.
    public var retries: Int = 3
    /// The first backoff; each retry doubles it up to `maxBackoffSeconds`.
    public var minBackoffSeconds: Double = 0.1
    public var maxBackoffSeconds: Double = 5

    public init(url: String) { self.url = url }

    static let keys = ["url", "bearer_token", "basic_auth", "tls", "timeout_s", "retries", "min_backoff_ms", "max_backoff_ms"]

    /// Reads the keys every endpoint has (`keys`) from `r`; the caller reads its own and finishes.
    static func read(_ r: inout JSONObjectReader, defaultTimeout: Double, defaultRetries: Int) throws(ConfigReadError) -> StoreEndpoint {
        let url = try r.string("url")
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8 else {
            throw ConfigReadError(path: r.child("url"), reason: "expected an http:// or https:// URL, got \"\(url)\"")
        }
        var e = StoreEndpoint(url: url.hasSuffix("/") ? String(url.dropLast()) : url)
        let token = try AEFlowConfig.nonEmptyToken(&r)
        if r.has("basic_auth"), let v = r.value("basic_auth"), v != .null {
            guard token == nil else { throw ConfigReadError(path: r.child("basic_auth"), reason: "give bearer_token or basic_auth, not both") }
            var b = try JSONObjectReader(v, path: r.child("basic_auth"))
            e.auth = .basic(username: try b.string("username"), password: try b.string("password"))
            try b.finish()
        } else if let token {
            e.auth = .bearer(token)
        }
        if r.has("tls"), let v = r.value("tls"), v != .null {
            var t = try JSONObjectReader(v, path: r.child("tls"))
            e.tls.caFile = try t.optionalString("ca_file")
            e.tls.insecureSkipVerify = try t.bool("insecure_skip_verify", default: false)
            try t.finish()
        }
        e.timeoutSeconds = try r.double("timeout_s", default: defaultTimeout, range: 0.01...3_600)
        e.retries = try r.int("retries", default: defaultRetries, range: 0...100)
        e.minBackoffSeconds = Double(try r.int("min_backoff_ms", default: 100, range: 1...600_000)) / 1000
        e.maxBackoffSeconds = Double(try r.int("max_backoff_ms", default: 5_000, range: 1...3_600_000)) / 1000
        guard e.maxBackoffSeconds >= e.minBackoffSeconds else {
            throw ConfigReadError(path: r.child("max_backoff_ms"), reason: "must be at least min_backoff_ms")
        }
        return e
    }

    /// The backoff before retry `attempt` (1-based): min × 2^(attempt−1), at most max.
    public func backoff(attempt: Int) -> Double {
        min(maxBackoffSeconds, minBackoffSeconds * Double(1 << min(max(attempt - 1, 0), 30)))
    }
}

/// numalogic's `prometheus_conf`: the Prometheus-compatible store (Prometheus, VictoriaMetrics) that streams with
/// `source: prometheus` read their history from — to train a key at once when it is new or its local history is
/// short, to catch up after downtime, and to fill windows at start. numalogic's `pushgateway` and
/// `return_labels` are accepted and have no meaning here.
public struct PrometheusConf: Equatable, Sendable {
    public var endpoint: StoreEndpoint
    /// numalogic's `scrape_interval`: the step of range queries, seconds (a pipeline may set its own).
    public var scrapeInterval: Double = 30
    /// Points per series one range query may return (Prometheus refuses more than 11,000); longer ranges are paged.
    public var maxPointsPerQuery: Int = 11_000
    /// Samples one range query may return over all its series: with many keys a page spans fewer steps, so a read of
    /// every key holds at most this many samples per metric at a time (about 30 bytes of JSON each).
    public var maxSamplesPerQuery: Int = 1_000_000
    /// Fill every key's window from the store when the daemon starts (keys the window snapshot already holds keep
    /// their newer points).
    public var prefillWindows = true
    /// How long a starting daemon waits for the prefill before it scores without it.
    public var prefillTimeoutSeconds: Double = 30

    public init(endpoint: StoreEndpoint) { self.endpoint = endpoint }

    static let keys = StoreEndpoint.keys + ["scrape_interval", "max_points_per_query", "max_samples_per_query", "prefill_windows", "prefill_timeout_s",
                                            "pushgateway", "return_labels"]

    static func read(_ value: JSONValue?, path: String) throws(ConfigReadError) -> PrometheusConf {
        var r = try JSONObjectReader(value, path: path)
        try r.expect(keys)
        var c = PrometheusConf(endpoint: try StoreEndpoint.read(&r, defaultTimeout: 10, defaultRetries: 3))
        c.scrapeInterval = try r.double("scrape_interval", default: 30, range: 0.001...86_400)
        c.maxPointsPerQuery = try r.int("max_points_per_query", default: 11_000, range: 2...10_000_000)
        c.maxSamplesPerQuery = try r.int("max_samples_per_query", default: 1_000_000, range: 2...1_000_000_000)
        c.prefillWindows = try r.bool("prefill_windows", default: true)
        c.prefillTimeoutSeconds = try r.double("prefill_timeout_s", default: 30, range: 0...3_600)
        _ = r.value("pushgateway")
        _ = r.value("return_labels")
        try r.finish()
        return c
    }
}

/// Where one ML pipeline's history is in the store (its `prometheus` key; used when its stream's `source` is
/// `prometheus`): a PromQL selector or query per metric (default: the metric's own name, as numalogic's fetcher
/// queries it), the step and the lookback. The key's label values are the stream's `composite_keys`: added as
/// label matchers to a plain selector, matched on the answer's labels for any other query.
public struct PrometheusSource: Equatable, Sendable {
    /// One query per metric, in the pipeline's metric order.
    public var queries: [String]
    /// Seconds between points (default: `prometheus_conf.scrape_interval`).
    public var stepSeconds: Double?
    /// How far back a training's history reaches (default: the trainer's `train_hours`).
    public var lookbackHours: Double?

    public init(queries: [String], stepSeconds: Double? = nil, lookbackHours: Double? = nil) {
        (self.queries, self.stepSeconds, self.lookbackHours) = (queries, stepSeconds, lookbackHours)
    }

    static func read(_ value: JSONValue?, path: String, metrics: [String]) throws(ConfigReadError) -> PrometheusSource {
        var r = try JSONObjectReader(value, path: path)
        try r.expect(["queries", "step_s", "lookback_hours"])
        var q = try r.object("queries")
        var queries: [String] = []
        for m in metrics {
            let query = q.has(m) ? try q.string(m) : m
            guard !query.allSatisfy(\.isWhitespace) else { throw ConfigReadError(path: q.child(m), reason: "must not be empty") }
            queries.append(query)
        }
        try q.finish(known: metrics)
        let step = r.has("step_s") ? try r.double("step_s", range: 0.001...86_400) : nil
        let lookback = r.has("lookback_hours") ? try r.double("lookback_hours", range: 0.001...1_000_000) : nil
        try r.finish()
        return PrometheusSource(queries: queries, stepSeconds: step, lookbackHours: lookback)
    }
}

/// Scores written back to a Prometheus-compatible store by remote write (AEFlow's `remote_write` section; off
/// when absent): per scored point `aeflow_anomaly_score`, `aeflow_metric_score{metric}` and `aeflow_is_anomaly`,
/// labelled with the pipeline and the key. Batched, from a bounded queue (what does not fit is dropped and
/// counted), retried with backoff; the ZeroMQ output stays the primary and never waits for it.
public struct RemoteWriteConf: Equatable, Sendable {
    public var endpoint: StoreEndpoint
    /// Samples per request (Prometheus's `max_samples_per_send` is 2,000).
    public var batchSize: Int = 2_000
    /// A partial batch is sent after this long.
    public var flushIntervalSeconds: Double = 1
    /// Samples waiting to be sent; beyond it new ones are dropped and counted.
    public var queueCapacity: Int = 100_000
    /// Labels added to every series (e.g. `cluster`).
    public var externalLabels: [(String, String)] = []

    public static func == (a: RemoteWriteConf, b: RemoteWriteConf) -> Bool {
        a.endpoint == b.endpoint && a.batchSize == b.batchSize && a.flushIntervalSeconds == b.flushIntervalSeconds
            && a.queueCapacity == b.queueCapacity && a.externalLabels.elementsEqual(b.externalLabels, by: { $0 == $1 })
    }

    static func read(_ value: JSONValue?, path: String) throws(ConfigReadError) -> RemoteWriteConf {
        var r = try JSONObjectReader(value, path: path)
        try r.expect(StoreEndpoint.keys + ["batch_size", "flush_interval_ms", "queue_capacity", "external_labels"])
        var c = RemoteWriteConf(endpoint: try StoreEndpoint.read(&r, defaultTimeout: 10, defaultRetries: 5))
        c.batchSize = try r.int("batch_size", default: 2_000, range: 1...1_000_000)
        c.flushIntervalSeconds = Double(try r.int("flush_interval_ms", default: 1_000, range: 1...3_600_000)) / 1000
        c.queueCapacity = try r.int("queue_capacity", default: 100_000, range: 1...100_000_000)
        var l = try r.object("external_labels")
        for name in l.object.keys {
            guard ScoreLabels.isValidName(name), !name.hasPrefix("__") else {
                throw ConfigReadError(path: l.child(name), reason: "is not a valid Prometheus label name")
            }
            c.externalLabels.append((name, try l.string(name)))
        }
        try l.finish()
        try r.finish()
        return c
    }
}

/// The labels of the series scores are written to: `pipeline`, then one label per composite key (the stream's
/// `composite_keys` names; `key` with the values joined by `:` when the stream names none). A key name that is
/// not a valid label name has its other characters replaced by `_`; one that collides with `pipeline`,
/// `metric` or `__name__` is prefixed with `key_`.
public enum ScoreLabels {
    public static func isValidName(_ s: String) -> Bool {
        guard let first = s.utf8.first, first == UInt8(ascii: "_") || isLetter(first) else { return false }
        return s.utf8.allSatisfy { $0 == UInt8(ascii: "_") || isLetter($0) || ($0 >= 48 && $0 <= 57) }
    }

    private static func isLetter(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }

    public static func sanitize(_ name: String) -> String {
        var out = String(name.unicodeScalars.map { s -> Character in
            s.isASCII && (s == "_" || s.properties.isAlphabetic || ("0"..."9").contains(s)) ? Character(s) : "_"
        })
        if out.isEmpty || out.first!.isNumber { out = "_" + out }
        if ["pipeline", "metric", "__name__"].contains(out) || out.hasPrefix("__") { out = "key_" + out }
        return out
    }

    /// The key labels for a stream's key names and a key's values.
    public static func keyLabels(names: [String], values: [String]) -> [(String, String)] {
        guard !names.isEmpty, names.count == values.count else { return [("key", values.joined(separator: ":"))] }
        return zip(names.map(sanitize), values).map { ($0, $1) }
    }
}
