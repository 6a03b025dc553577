import TensorCore

/// numalogic's `ScoreConf` plus AEFlow's `mode`, `alert_threshold` and the likelihood mode's options.
///
/// * `numalogic`: the fitted threshold turns per-point errors into ratios, aggregated over the window
///   (`window_agg`) and the features (`feature_agg`), then post-processed.
/// * `adaptive`: the same aggregation, but each feature's ratio is `error / (μ + k·σ)` where μ and σ are
///   exponentially weighted statistics of that key's own recent errors (half-life `halflife` points,
///   starting from the training errors). A score then means "unusual for this key lately". Updates are
///   winsorised at twice the current threshold so a burst of anomalies does not teach itself normal.
/// * `likelihood`: the newest point's residual (value − reconstruction), filtered by `direction` and
///   `min_deviation`, smoothed over `likelihood.smoothing` points and compared with the key's own long-run
///   distribution of that level: the tail probability p, reported as `−log10(p)` clamped to 0–10 (9: a
///   one-in-a-billion level), combined with the `range` rule; `follow` lets the model's input follow level
///   shifts. Defaults are the ones `aeflow evaluate` found best (README "What the score means").
public struct ScoreConfig: Equatable, Sendable {
    public enum Mode: String, Sendable, CaseIterable { case numalogic, adaptive, likelihood }

    /// Which deviations count, per metric.
    public enum Direction: String, Sendable, CaseIterable { case spikes, dips, both }

    /// The likelihood mode's settings (README "What the score means").
    public struct Likelihood: Equatable, Sendable {
        /// Which residuals feed the score: the window's newest point, or the window aggregate (`window_agg` of
        /// every row's absolute residual).
        public enum Point: String, Sendable, CaseIterable { case newest, window }
        public var point: Point = .newest
        /// Points averaged into the recent level (HTM's short window).
        public var smoothing: Int = 3
        /// Scored points after a model starts during which the output is neutral (0) while statistics settle.
        public var learning: Int = 0
        /// Half-life (points) of the long-run mean and variance of the recent level.
        public var halflife: Double = 4000
        /// `linear` scale: the floor of the long-run standard deviation (preprocessed units of the residual);
        /// `log` scale: the offset c in log(level + c).
        public var minStd: Float = 0.01
        /// Long-run updates are capped at μ + `winsorize`·σ (0: not capped). Capping made level shifts alarm until
        /// a retrain in the evaluation, so the default lets anomalies into the statistics.
        public var winsorize: Float = 0
        /// The scale the level's distribution is estimated on: `log` (log(level + min_std); residuals are heavy-tailed,
        /// and a Gaussian on the linear scale alarmed 5–10× more often for the same recall) or `linear`.
        public enum Scale: String, Sendable, CaseIterable { case linear, log }
        public var scale: Scale = .log
        /// Whether a retrained model continues the key's statistics (true) or restarts from its training residuals
        /// (in-sample residuals are smaller than live ones, so restarting alarmed after every retrain).
        public var carry = true
        public init() {}
    }

    /// The range rule: a value beyond the key's observed range by `tolerance` of its width scores at least the
    /// alert threshold (Numenta's spatial anomaly rule).
    public struct RangeRule: Equatable, Sendable {
        public var tolerance: Float = 0.05
        /// The range a model starts from: the training rows' `quantile` and `1 − quantile` quantiles (0: min and
        /// max), so a few anomalies in the training history do not widen it.
        public var quantile: Float = 0
        public init(tolerance: Float = 0.05, quantile: Float = 0) { (self.tolerance, self.quantile) = (tolerance, quantile) }
    }

    /// Level following: the model's input is shifted by (recent level − training mean), the recent level being an
    /// exponentially weighted mean of the key's values with this half-life (points).
    public struct Follow: Equatable, Sendable {
        public var halflife: Double = 288
        public init(halflife: Double = 288) { self.halflife = halflife }
    }

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
    /// The unified score at and above which an output is `is_anomaly`; nil: the mode's default
    /// (``defaultAlertThreshold(postprocess:)``).
    public var alertThreshold: Float?
    public var likelihood = Likelihood()
    /// Per metric (`"*"`: every metric not listed).
    public var direction: [(String, Direction)] = [("*", .both)]
    /// Per metric, in the metric's units: smaller deviations from the expected value are never anomalous.
    public var minDeviation: [(String, Float)] = [("*", 0)]
    public var range: RangeRule?
    public var follow: Follow?

    public init() {}

    /// The alert threshold when none is configured: 9 in likelihood mode (tail probability 1e-9); otherwise the
    /// score of a ratio of exactly 1 — an error at the fitted threshold — after post-processing.
    public static func defaultAlertThreshold(mode: Mode, postprocess: Postprocess?) -> Float {
        switch mode {
        case .likelihood: return 9
        case .numalogic, .adaptive:
            switch postprocess {
            case .expMovingAverage?: return Postprocess.tanhNorm(scaleFactor: 10, smoothFactor: 10).apply(1)
            case let p?: return p.apply(1)
            case nil: return 1
            }
        }
    }

    /// Resolves a per-metric setting for `metrics` (the `"*"` entry for unlisted metrics).
    public static func perMetric<T>(_ entries: [(String, T)], metrics: [String], fallback: T) -> [T] {
        let star = entries.first { $0.0 == "*" }?.1 ?? fallback
        return metrics.map { m in entries.first { $0.0 == m }?.1 ?? star }
    }

    public static func == (a: ScoreConfig, b: ScoreConfig) -> Bool {
        a.windowAgg == b.windowAgg && a.featureAgg == b.featureAgg && a.adjust == b.adjust && a.mode == b.mode && a.adaptive == b.adaptive
            && a.alertThreshold == b.alertThreshold && a.likelihood == b.likelihood && a.range == b.range && a.follow == b.follow
            && a.direction.map(\.0) == b.direction.map(\.0) && a.direction.map(\.1) == b.direction.map(\.1)
            && a.minDeviation.map(\.0) == b.minDeviation.map(\.0) && a.minDeviation.map(\.1) == b.minDeviation.map(\.1)
    }

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
        guard let m = Mode(rawValue: mode) else { throw ConfigReadError(path: r.child("mode"), reason: "expected numalogic, adaptive or likelihood, got \"\(mode)\"") }
        s.mode = m
        var ad = try r.object("adaptive")
        s.adaptive.halflife = try ad.double("halflife", default: 1440, range: 1...1e9)
        s.adaptive.stdFactor = try ad.float("std_factor", default: 3, range: 0...1e6)
        try ad.finish()
        if r.has("alert_threshold") { s.alertThreshold = try r.float("alert_threshold", range: 0...1e6) }
        var lr = try r.object("likelihood")
        let point = try lr.string("point", default: "newest")
        guard let pt = Likelihood.Point(rawValue: point) else { throw ConfigReadError(path: lr.child("point"), reason: "expected newest or window, got \"\(point)\"") }
        s.likelihood.point = pt
        s.likelihood.smoothing = try lr.int("smoothing", default: 3, range: 1...1000)
        s.likelihood.learning = try lr.int("learning", default: 0, range: 0...1_000_000_000)
        s.likelihood.halflife = try lr.double("halflife", default: 4000, range: 1...1e9)
        s.likelihood.minStd = try lr.float("min_std", default: 0.01, range: 1e-9...1e9)
        s.likelihood.winsorize = try lr.float("winsorize", default: 0, range: 0...1e6)
        let scale = try lr.string("scale", default: "log")
        guard let sc = Likelihood.Scale(rawValue: scale) else { throw ConfigReadError(path: lr.child("scale"), reason: "expected linear or log, got \"\(scale)\"") }
        s.likelihood.scale = sc
        s.likelihood.carry = try lr.bool("carry", default: true)
        try lr.finish()
        s.direction = try perMetricSetting(&r, "direction", default: .both) { (v, path) throws(ConfigReadError) in
            guard let name = v.stringValue, let d = Direction(rawValue: name) else {
                throw ConfigReadError(path: path, reason: "expected spikes, dips or both, got \(v.serialized())")
            }
            return d
        }
        s.minDeviation = try perMetricSetting(&r, "min_deviation", default: 0) { (v, path) throws(ConfigReadError) in
            guard let x = v.doubleValue, x.isFinite, x >= 0, x <= 3.4e38 else {
                throw ConfigReadError(path: path, reason: "expected a number ≥ 0, got \(v.serialized())")
            }
            return Float(x)
        }
        // The range rule and level following: on by default in likelihood mode (`null` turns one off), and only
        // meaningful there, as are direction and min_deviation.
        if r.has("range") {
            if let rv = r.value("range"), rv != .null {
                var rr = try JSONObjectReader(rv, path: r.child("range"))
                s.range = RangeRule(tolerance: try rr.float("tolerance", default: 0.05, range: 0...1e6),
                                    quantile: try rr.float("quantile", default: 0, range: 0...0.49))
                try rr.finish()
            }
        } else if m == .likelihood {
            s.range = RangeRule(tolerance: 0.05, quantile: 0)
        }
        if r.has("follow") {
            if let fv = r.value("follow"), fv != .null {
                var fr = try JSONObjectReader(fv, path: r.child("follow"))
                s.follow = Follow(halflife: try fr.double("halflife", default: 288, range: 1...1e9))
                try fr.finish()
            }
        } else if m == .likelihood {
            s.follow = Follow(halflife: 288)
        }
        if m != .likelihood {
            for (key, set) in [("range", s.range != nil), ("follow", s.follow != nil),
                               ("direction", s.direction.count != 1 || s.direction[0].1 != .both),
                               ("min_deviation", s.minDeviation.count != 1 || s.minDeviation[0].1 != 0)] where set {
                throw ConfigReadError(path: r.child(key), reason: "applies to mode likelihood only (mode is \(m.rawValue))")
            }
        }
        try r.finish()
        return s
    }

    /// A setting given once for every metric (`direction: dips`) or per metric (`direction: {cpu: spikes, "*": both}`).
    static func perMetricSetting<T>(_ r: inout JSONObjectReader, _ key: String, default d: T,
                                    _ parse: (JSONValue, String) throws(ConfigReadError) -> T) throws(ConfigReadError) -> [(String, T)] {
        guard let v = r.value(key), v != .null else { return [("*", d)] }
        if let o = v.objectValue {
            var out: [(String, T)] = []
            for k in o.keys { out.append((k, try parse(o[k]!, "\(r.child(key)).\(k)"))) }
            if !out.contains(where: { $0.0 == "*" }) { out.append(("*", d)) }
            return out
        }
        return [("*", try parse(v, r.child(key)))]
    }

    public var json: JSONValue {
        var o = JSONObject([("window_agg", windowAgg.json), ("feature_agg", featureAgg.json), ("mode", .string(mode.rawValue)),
                            ("adaptive", .object(JSONObject([("halflife", .double(adaptive.halflife)), ("std_factor", .double(Double(adaptive.stdFactor)))])))])
        if let t = alertThreshold { o["alert_threshold"] = .double(Double(t)) }
        if mode == .likelihood || likelihood != Likelihood() {
            o["likelihood"] = .object(JSONObject([
                ("point", .string(likelihood.point.rawValue)), ("smoothing", .int(Int64(likelihood.smoothing))),
                ("learning", .int(Int64(likelihood.learning))), ("halflife", .double(likelihood.halflife)),
                ("min_std", .double(Double(likelihood.minStd))), ("winsorize", .double(Double(likelihood.winsorize))),
                ("scale", .string(likelihood.scale.rawValue)), ("carry", .bool(likelihood.carry)),
            ]))
        }
        if direction.count != 1 || direction[0].1 != .both {
            o["direction"] = .object(JSONObject(direction.map { ($0.0, JSONValue.string($0.1.rawValue)) }))
        }
        if minDeviation.count != 1 || minDeviation[0].1 != 0 {
            o["min_deviation"] = .object(JSONObject(minDeviation.map { ($0.0, JSONValue.double(Double($0.1))) }))
        }
        if mode == .likelihood {
            o["range"] = range.map { .object(JSONObject([("tolerance", .double(Double($0.tolerance))), ("quantile", .double(Double($0.quantile)))])) } ?? .null
            o["follow"] = follow.map { .object(JSONObject([("halflife", .double($0.halflife))])) } ?? .null
        }
        if let a = adjust {
            o["adjust"] = .object(JSONObject([
                ("upper_limits", .object(JSONObject(a.upperLimits.map { ($0.0, JSONValue.double(Double($0.1))) }))),
                ("window_agg", a.windowAgg.json), ("feature_agg", a.featureAgg.json),
            ]))
        }
        return .object(o)
    }
}
