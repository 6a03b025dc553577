import TensorCore

/// numalogic's `ScoreConf` plus AEFlow's `mode`.
///
/// * `numalogic`: the fitted threshold turns per-point errors into ratios, aggregated over the window
///   (`window_agg`) and the features (`feature_agg`), then post-processed.
/// * `adaptive`: the same aggregation, but each feature's ratio is `error / (μ + k·σ)` where μ and σ are
///   exponentially weighted statistics of that key's own recent errors (half-life `halflife` points,
///   starting from the training errors). A score then means "unusual for this key lately". Updates are
///   winsorised at twice the current threshold so a burst of anomalies does not teach itself normal.
public struct ScoreConfig: Equatable, Sendable {
    public enum Mode: String, Sendable { case numalogic, adaptive }

    public struct Adjust: Equatable, Sendable {
        /// Static upper limit per metric (numalogic's `upper_limits`), scored with a SigmoidThreshold.
        public var upperLimits: [(String, Float)]
        public var windowAgg: Aggregation = .mean
        public var featureAgg: Aggregation = .max
        public init(upperLimits: [(String, Float)], windowAgg: Aggregation = .mean, featureAgg: Aggregation = .max) {
            (self.upperLimits, self.windowAgg, self.featureAgg) = (upperLimits, windowAgg, featureAgg)
        }
        /// numalogic's static score of a raw window `(L, F)` whose columns are `metrics`: a SigmoidThreshold
        /// (slope 5, limit 10) on each limited metric, aggregated over the window then over those metrics.
        /// Nil when no listed metric is present.
        public func score(raw: Tensor, metrics: [String]) -> Float? {
            let cols = upperLimits.compactMap { (m, limit) in metrics.firstIndex(of: m).map { ($0, limit) } }
            guard !cols.isEmpty else { return nil }
            let (rows, f) = (raw.shape[0], raw.shape[1])
            let v = raw.scalars
            let coeff = 5 * Float.pi
            let perColumn = cols.map { (c, limit) in
                windowAgg.reduce((0..<rows).map { r in
                    10 / (1 + ScalarMath.exp(Swift.min(Swift.max(-coeff * (v[r * f + c] - limit), -88.72), 88.72)))
                })
            }
            return featureAgg.reduce(perColumn)
        }

        public static func == (a: Adjust, b: Adjust) -> Bool {
            a.upperLimits.map(\.0) == b.upperLimits.map(\.0) && a.upperLimits.map(\.1) == b.upperLimits.map(\.1)
                && a.windowAgg == b.windowAgg && a.featureAgg == b.featureAgg
        }
    }

    public struct Adaptive: Equatable, Sendable {
        public var halflife: Double = 1440
        public var stdFactor: Float = 3
        public init(halflife: Double = 1440, stdFactor: Float = 3) { (self.halflife, self.stdFactor) = (halflife, stdFactor) }
    }

    public var windowAgg: Aggregation = .mean
    public var featureAgg: Aggregation = .max
    public var adjust: Adjust?
    public var mode: Mode = .numalogic
    public var adaptive = Adaptive()

    public init() {}

    public static func read(_ value: JSONValue?, path: String) throws(ConfigReadError) -> ScoreConfig {
        var r = try JSONObjectReader(value, path: path)
        var s = ScoreConfig()
        func agg(_ r: inout JSONObjectReader, _ key: String, _ d: Aggregation) throws(ConfigReadError) -> Aggregation {
            guard let v = r.value(key), v != .null else { return d }
            if let name = v.stringValue {  // plain AggMethod value (ScoreAdjustConf style)
                var inner = JSONObjectReader(JSONObject([("method", .string(name))]), path: r.child(key))
                return try Aggregation.read(&inner)
            }
            var inner = try JSONObjectReader(v, path: r.child(key))
            return try Aggregation.read(&inner)
        }
        s.windowAgg = try agg(&r, "window_agg", .mean)
        s.featureAgg = try agg(&r, "feature_agg", .max)
        if let a = r.value("adjust"), a != .null {
            var ar = try JSONObjectReader(a, path: r.child("adjust"))
            var limits = try ar.object("upper_limits")
            var pairs: [(String, Float)] = []
            for k in limits.object.keys { pairs.append((k, try limits.float(k))) }
            try limits.finish()
            var adj = Adjust(upperLimits: pairs)
            adj.windowAgg = try agg(&ar, "window_agg", .mean)
            adj.featureAgg = try agg(&ar, "feature_agg", .max)
            try ar.finish()
            s.adjust = adj
        }
        let mode = try r.string("mode", default: "numalogic")
        guard let m = Mode(rawValue: mode) else { throw ConfigReadError(path: r.child("mode"), reason: "expected numalogic or adaptive, got \"\(mode)\"") }
        s.mode = m
        var ad = try r.object("adaptive")
        s.adaptive.halflife = try ad.double("halflife", default: 1440, range: 1...1e9)
        s.adaptive.stdFactor = try ad.float("std_factor", default: 3, range: 0...1e6)
        try ad.finish()
        try r.finish()
        return s
    }

    public var json: JSONValue {
        var o = JSONObject([("window_agg", windowAgg.json), ("feature_agg", featureAgg.json), ("mode", .string(mode.rawValue)),
                            ("adaptive", .object(JSONObject([("halflife", .double(adaptive.halflife)), ("std_factor", .double(Double(adaptive.stdFactor)))])))])
        if let a = adjust {
            o["adjust"] = .object(JSONObject([
                ("upper_limits", .object(JSONObject(a.upperLimits.map { ($0.0, JSONValue.double(Double($0.1))) }))),
                ("window_agg", a.windowAgg.json), ("feature_agg", a.featureAgg.json),
            ]))
        }
        return .object(o)
    }
}
