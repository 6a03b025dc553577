import TensorCore

/// A configured component by name (numalogic's `ModelInfo(name, conf, stateful)`).
public struct ComponentSpec: Equatable, Sendable {
    public var name: String
    public var conf: JSONObject
    public var stateful: Bool

    public init(name: String, conf: JSONObject = JSONObject(), stateful: Bool = true) {
        (self.name, self.conf, self.stateful) = (name, conf, stateful)
    }

    /// Reads `{name, conf, stateful}`.
    public static func read(_ value: JSONValue?, path: String, defaultStateful: Bool = true) throws(ConfigReadError) -> ComponentSpec {
        var r = try JSONObjectReader(value, path: path)
        let name = try r.string("name")
        let conf = try r.object("conf").object
        let stateful = try r.bool("stateful", default: defaultStateful)
        try r.finish()
        return ComponentSpec(name: name, conf: conf, stateful: stateful)
    }

    public var json: JSONValue {
        .object(JSONObject([("name", .string(name)), ("conf", .object(conf)), ("stateful", .bool(stateful))]))
    }
}

/// Builds preprocess transforms and thresholds from specs, with numalogic's constructor names.
public enum ComponentFactory {
    public static let preprocessNames = [
        "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "LogTransformer", "StaticPowerTransformer",
        "TanhScaler", "PercentileScaler", "DataClipper", "DifferenceTransform", "ExpMovingAverage", "GaussianNoiseAdder",
    ]
    public static let thresholdNames = ["StdDevThreshold", "MaxPercentileThreshold", "StaticThreshold", "SigmoidThreshold", "MahalanobisThreshold",
                                         "RobustMahalanobisThreshold"]

    private static func wrap<T>(_ path: String, _ body: () throws(ScoringError) -> T) throws(ConfigReadError) -> T {
        do { return try body() } catch {
            if case .invalidConfig(_, let reason) = error { throw ConfigReadError(path: path, reason: reason) }
            throw ConfigReadError(path: path, reason: error.description)
        }
    }

    public static func preprocess(_ spec: ComponentSpec, path: String) throws(ConfigReadError) -> any PreprocessTransform {
        var c = JSONObjectReader(spec.conf, path: path + ".conf")
        let t: any PreprocessTransform
        switch spec.name {
        case "StandardScaler": t = StandardScaler(withMean: try c.bool("with_mean", default: true), withStd: try c.bool("with_std", default: true))
        case "MinMaxScaler":
            let range = try c.floats("feature_range")?.values ?? [0, 1]
            guard range.count == 2, range[0] < range[1] else { throw ConfigReadError(path: c.child("feature_range"), reason: "expected [min, max] with min < max") }
            t = MinMaxScaler(featureRange: (range[0], range[1]))
        case "MaxAbsScaler": t = MaxAbsScaler()
        case "RobustScaler":
            let q = try c.floats("quantile_range")?.values.map(Double.init) ?? [25, 75]
            guard q.count == 2, 0 <= q[0], q[0] < q[1], q[1] <= 100 else { throw ConfigReadError(path: c.child("quantile_range"), reason: "expected [low, high] percentiles with 0 ≤ low < high ≤ 100") }
            t = RobustScaler(withCentering: try c.bool("with_centering", default: true), withScaling: try c.bool("with_scaling", default: true),
                             quantileRange: (q[0], q[1]))
        case "LogTransformer": t = LogTransformer(addFactor: try c.float("add_factor", default: 2))
        case "StaticPowerTransformer": t = StaticPowerTransformer(n: try c.float("n"), addFactor: try c.float("add_factor", default: 0))
        case "TanhScaler": t = TanhScaler(coeff: try c.float("coeff", default: 0.2), eps: try c.double("eps", default: 1e-10))
        case "PercentileScaler":
            let maxP = try c.double("max_percentile", default: 99, range: 0...100)
            let minP: Double? = c.has("min_percentile") && c.object["min_percentile"] != .null ? try c.double("min_percentile", range: 0...100) : nil
            _ = c.value("min_percentile")
            t = PercentileScaler(maxPercentile: maxP, minPercentile: minP, eps: try c.double("eps", default: 1e-2))
        case "DataClipper":
            let lower = try c.floats("lower")?.values, upper = try c.floats("upper")?.values
            t = try wrap(path) { () throws(ScoringError) in try DataClipper(lower: lower, upper: upper) }
        case "DifferenceTransform": t = DifferenceTransform()
        case "ExpMovingAverage":
            let beta = try c.float("beta", default: 0.5)
            t = try wrap(path) { () throws(ScoringError) in try ExpMovingAverage(beta: beta) }
        case "GaussianNoiseAdder":
            t = GaussianNoiseAdder(scale: try c.float("scale", default: 1e-8), positiveOnly: try c.bool("positive_only", default: true),
                                   seed: UInt64(try c.int("seed", default: 42, range: 0...Int.max)))
        default:
            throw ConfigReadError(path: path + ".name", reason: "unknown preprocess \"\(spec.name)\"; known: \(preprocessNames.joined(separator: ", "))")
        }
        try c.finish()
        return t
    }

    public static func threshold(_ spec: ComponentSpec, path: String) throws(ConfigReadError) -> any ThresholdModel {
        var c = JSONObjectReader(spec.conf, path: path + ".conf")
        let t: any ThresholdModel
        switch spec.name {
        case "StdDevThreshold":
            t = StdDevThreshold(stdFactor: try c.float("std_factor", default: 3), minThreshold: try c.float("min_threshold", default: 0))
        case "MaxPercentileThreshold":
            t = MaxPercentileThreshold(maxInlierPercentile: try c.double("max_inlier_percentile", default: 96, range: 0...100),
                                       minThreshold: try c.float("min_threshold", default: 1e-4))
        case "StaticThreshold":
            let limit = try c.float("upper_limit"), out = try c.float("outlier_score", default: 10), inl = try c.float("inlier_score", default: 0.5)
            t = try wrap(path) { () throws(ScoringError) in try StaticThreshold(upperLimit: limit, outlierScore: out, inlierScore: inl) }
        case "SigmoidThreshold":
            guard let limits = try c.floats("upper_limits")?.values else { throw ConfigReadError(path: c.child("upper_limits"), reason: "is required") }
            let slope = try c.float("slope_factor", default: 5), limit = try c.float("score_limit", default: 10)
            t = try wrap(path) { () throws(ScoringError) in try SigmoidThreshold(upperLimits: limits, slopeFactor: slope, scoreLimit: limit) }
        case "MahalanobisThreshold":
            let p = try c.double("max_outlier_prob", default: 0.1)
            t = try wrap(path) { () throws(ScoringError) in try MahalanobisThreshold(maxOutlierProb: p) }
        case "RobustMahalanobisThreshold":
            let p = try c.double("max_outlier_prob", default: 0.1)
            // null: scikit-learn's smallest support, ⌈(n + p + 1)/2⌉ rows.
            let f: Double? = c.has("support_fraction") && c.value("support_fraction") == .null
                ? nil : try c.double("support_fraction", default: 0.7)
            t = try wrap(path) { () throws(ScoringError) in try RobustMahalanobisThreshold(maxOutlierProb: p, supportFraction: f) }
        default:
            throw ConfigReadError(path: path + ".name", reason: "unknown threshold \"\(spec.name)\"; known: \(thresholdNames.joined(separator: ", "))")
        }
        try c.finish()
        return t
    }
}
