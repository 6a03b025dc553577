import TensorCore

/// A threshold estimator (numalogic's `models/threshold`): turns `(N, F)` reconstruction errors into
/// ratio-scores (1 = at the threshold) and 0/1 outlier predictions.
public protocol ThresholdModel: Sendable {
    var name: String { get }
    var conf: JSONObject { get }
    var isStateful: Bool { get }
    mutating func fit(_ x: Tensor) throws(ScoringError)
    /// Scores `(N, F)`; a per-row estimator (Mahalanobis) repeats its row score across features.
    func scoreSamples(_ x: Tensor) -> Tensor
    func predict(_ x: Tensor) -> Tensor
    /// The score of one element (`x` in feature `column`) when it depends on that element alone; nil for
    /// estimators that score whole rows (Mahalanobis). Lets the scoring path skip building tensors.
    func elementScore(_ x: Float, column: Int) -> Float?
    /// Per column, the divisor when ``elementScore(_:column:)`` is exactly `x / divisor[column]` (nil otherwise):
    /// the scoring path then divides without a call through the protocol per element.
    var elementDivisors: [Float]? { get }
    /// The fitted threshold (per feature, or one value), reported as `metadata.threshold`.
    var thresholdValues: [Float] { get }
    /// Fitted statistics, stored as `threshold.<stat>`.
    var stats: [(String, Tensor)] { get }
    mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError)
}

extension ThresholdModel {
    public var isStateful: Bool { true }
    public func elementScore(_ x: Float, column: Int) -> Float? { nil }
    public var elementDivisors: [Float]? { nil }
}

/// numalogic's `StdDevThreshold`: per column `thr = mean + std_factor·std` (population std), raised to
/// `min_threshold`; score `x / thr`; outlier where `x ≥ thr`. Stats `mean`, `std`, `threshold`.
public struct StdDevThreshold: ThresholdModel {
    public let name = "StdDevThreshold"
    public var stdFactor: Float, minThreshold: Float
    public private(set) var mean: [Float] = [], std: [Float] = [], threshold: [Float] = []
    public var conf: JSONObject { JSONObject([("std_factor", .double(Double(stdFactor))), ("min_threshold", .double(Double(minThreshold)))]) }
    public init(stdFactor: Float = 3, minThreshold: Float = 0) { (self.stdFactor, self.minThreshold) = (stdFactor, minThreshold) }

    public mutating func fit(_ x: Tensor) throws(ScoringError) {
        try checkFitData(x, name)
        let cols = ColumnStats.columns(x)
        mean = cols.map { Float(ColumnStats.mean($0)) }
        std = cols.map { Float(ColumnStats.variance($0).squareRoot()) }
        threshold = zip(mean, std).map { max($0 + stdFactor * $1, minThreshold) }
    }

    public func scoreSamples(_ x: Tensor) -> Tensor { columnwise(x) { (v, c) in v / threshold[c] } }
    public func elementScore(_ x: Float, column: Int) -> Float? { x / threshold[column] }
    public var elementDivisors: [Float]? { threshold }
    public func predict(_ x: Tensor) -> Tensor { columnwise(x) { (v, c) in v >= threshold[c] ? 1 : 0 } }
    public var thresholdValues: [Float] { threshold }
    public var stats: [(String, Tensor)] { [("mean", Tensor(mean)), ("std", Tensor(std)), ("threshold", Tensor(threshold))] }
    public mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError) {
        let t = try restoreStats(stats, ["mean", "std", "threshold"], features: features, name)
        (mean, std, threshold) = (t[0].scalars, t[1].scalars, t[2].scalars)
        guard std.allSatisfy({ $0 >= 0 }) else { throw .invalidData("\(name) statistic std must not be negative, got \(std)") }
        guard threshold.allSatisfy({ $0 > 0 }) else { throw .invalidData("\(name) thresholds must be positive, got \(threshold)") }
    }
}

/// numalogic's `MaxPercentileThreshold`: per column the `max_inlier_percentile` percentile, raised to
/// `min_threshold`; score `x / thr`; outlier where `x > thr`. Stat `threshold`.
public struct MaxPercentileThreshold: ThresholdModel {
    public let name = "MaxPercentileThreshold"
    public var maxInlierPercentile: Double, minThreshold: Float
    public private(set) var threshold: [Float] = []
    public var conf: JSONObject {
        JSONObject([("max_inlier_percentile", .double(maxInlierPercentile)), ("min_threshold", .double(Double(minThreshold)))])
    }
    public init(maxInlierPercentile: Double = 96, minThreshold: Float = 1e-4) {
        (self.maxInlierPercentile, self.minThreshold) = (maxInlierPercentile, minThreshold)
    }

    public mutating func fit(_ x: Tensor) throws(ScoringError) {
        try checkFitData(x, name)
        threshold = ColumnStats.columns(x).map { max(Float(ColumnStats.percentile($0, maxInlierPercentile)), minThreshold) }
    }

    public func scoreSamples(_ x: Tensor) -> Tensor { columnwise(x) { (v, c) in v / threshold[c] } }
    public func elementScore(_ x: Float, column: Int) -> Float? { x / threshold[column] }
    public var elementDivisors: [Float]? { threshold }
    public func predict(_ x: Tensor) -> Tensor { columnwise(x) { (v, c) in v > threshold[c] ? 1 : 0 } }
    public var thresholdValues: [Float] { threshold }
    public var stats: [(String, Tensor)] { [("threshold", Tensor(threshold))] }
    public mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError) {
        threshold = try restoreStats(stats, ["threshold"], features: features, name)[0].scalars
        guard threshold.allSatisfy({ $0 > 0 }) else { throw .invalidData("\(name) thresholds must be positive, got \(threshold)") }
    }
}

/// numalogic's `StaticThreshold` without its in-place overwrite bug: `outlier_score` where
/// `x ≥ upper_limit`, else `inlier_score`.
public struct StaticThreshold: ThresholdModel {
    public let name = "StaticThreshold"
    public var upperLimit: Float, outlierScore: Float, inlierScore: Float
    public var isStateful: Bool { false }
    public var conf: JSONObject {
        JSONObject([("upper_limit", .double(Double(upperLimit))), ("outlier_score", .double(Double(outlierScore))),
                    ("inlier_score", .double(Double(inlierScore)))])
    }
    public init(upperLimit: Float, outlierScore: Float = 10, inlierScore: Float = 0.5) throws(ScoringError) {
        guard outlierScore >= inlierScore else {
            throw .invalidConfig(path: "StaticThreshold", reason: "outlier score needs to be greater than inlier score")
        }
        (self.upperLimit, self.outlierScore, self.inlierScore) = (upperLimit, outlierScore, inlierScore)
    }
    public mutating func fit(_ x: Tensor) throws(ScoringError) {}
    public func scoreSamples(_ x: Tensor) -> Tensor { x.map { $0 >= upperLimit ? outlierScore : inlierScore } }
    public func elementScore(_ x: Float, column: Int) -> Float? { x >= upperLimit ? outlierScore : inlierScore }
    public func predict(_ x: Tensor) -> Tensor { x.map { $0 >= upperLimit ? 1 : 0 } }
    public var thresholdValues: [Float] { [upperLimit] }
    public var stats: [(String, Tensor)] { [] }
    public mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError) {
        guard stats.isEmpty else { throw .invalidShape("StaticThreshold has no statistics") }
    }
}

/// numalogic's `SigmoidThreshold`: `score_limit / (1 + exp(clip(−slope·π·(x − limit), ±88.72)))`, one limit
/// for all columns or one per column.
public struct SigmoidThreshold: ThresholdModel {
    public let name = "SigmoidThreshold"
    public var upperLimits: [Float], slopeFactor: Float, scoreLimit: Float
    public var isStateful: Bool { false }
    public var conf: JSONObject {
        JSONObject([("upper_limits", .array(upperLimits.map { .double(Double($0)) })), ("slope_factor", .double(Double(slopeFactor))),
                    ("score_limit", .double(Double(scoreLimit)))])
    }
    public init(upperLimits: [Float], slopeFactor: Float = 5, scoreLimit: Float = 10) throws(ScoringError) {
        guard !upperLimits.isEmpty else { throw .invalidConfig(path: "SigmoidThreshold.upper_limits", reason: "needs at least one limit") }
        (self.upperLimits, self.slopeFactor, self.scoreLimit) = (upperLimits, slopeFactor, scoreLimit)
    }
    func limit(_ c: Int) -> Float { upperLimits.count == 1 ? upperLimits[0] : upperLimits[c] }
    public mutating func fit(_ x: Tensor) throws(ScoringError) {}
    public func scoreSamples(_ x: Tensor) -> Tensor { columnwise(x) { (v, c) in elementScore(v, column: c)! } }
    public func elementScore(_ x: Float, column c: Int) -> Float? {
        let arg = Swift.min(Swift.max(-slopeFactor * Float.pi * (x - limit(c)), -88.72), 88.72)
        return scoreLimit / (1 + ScalarMath.exp(arg))
    }
    public func predict(_ x: Tensor) -> Tensor { columnwise(x) { (v, c) in v >= limit(c) ? 1 : 0 } }
    public var thresholdValues: [Float] { upperLimits }
    public var stats: [(String, Tensor)] { [] }
    public mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError) {
        guard stats.isEmpty else { throw .invalidShape("SigmoidThreshold has no statistics") }
        guard upperLimits.count == 1 || upperLimits.count == features else {
            throw .invalidShape("SigmoidThreshold has \(upperLimits.count) limits for \(features) features")
        }
    }
}
