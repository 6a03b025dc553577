import TensorCore

/// Per-feature statistics of the training data that scoring starts from, stored in a checkpoint as optional
/// `score.<stat>` tensors, each `(F,)` F32 (ARCHITECTURE.md §3/§8). A checkpoint written without them (per §3, or
/// by numalogic's importer) loads; each consumer falls back as documented on its property.
public struct ScoreStats: Sendable, Equatable {
    /// `score.errormean`, `score.errorstd`: the element-wise training errors' mean and standard deviation (the
    /// adaptive mode's starting point; without them it starts from the threshold's statistics).
    public var errorMean: [Float]?
    public var errorStd: [Float]?
    /// `score.residualmean`, `score.residualstd`: mean and standard deviation of the absolute residual
    /// |preprocessed value − reconstruction| over the training rows (the likelihood mode's starting point;
    /// without them it learns from the first scored points).
    public var residualMean: [Float]?
    public var residualStd: [Float]?
    /// `score.min`, `score.max`, `score.mean`: the training rows' range (their `range.quantile` and 1 − quantile
    /// quantiles) and mean in metric units (the range rule's starting range and the level-following baseline;
    /// without them both start from the first scored window).
    public var dataMin: [Float]?
    public var dataMax: [Float]?
    public var dataMean: [Float]?

    public init() {}

    /// Tensor names (without the `score.` prefix) and key paths.
    static var names: [(String, WritableKeyPath<ScoreStats, [Float]?>)] { [
        ("errormean", \.errorMean), ("errorstd", \.errorStd), ("residualmean", \.residualMean), ("residualstd", \.residualStd),
        ("min", \.dataMin), ("max", \.dataMax), ("mean", \.dataMean),
    ] }

    public var tensors: [(String, Tensor)] {
        ScoreStats.names.compactMap { (n, k) in self[keyPath: k].map { ("score." + n, Tensor($0)) } }
    }

    /// Sets the stat named `name` (without prefix); false when the name is not a score stat.
    mutating func set(_ name: String, _ values: [Float]) -> Bool {
        guard let k = ScoreStats.names.first(where: { $0.0 == name })?.1 else { return false }
        self[keyPath: k] = values
        return true
    }

    /// Checks counts and values: every stat finite with one value per feature, spreads ≥ 0, min ≤ max.
    public func validate(features: Int) throws(CheckpointError.Problem) {
        for (n, k) in ScoreStats.names {
            guard let v = self[keyPath: k] else { continue }
            guard v.count == features else { throw .tensors("score.\(n) has \(v.count) values for \(features) metrics") }
            guard v.allSatisfy(\.isFinite) else { throw .tensors("score.\(n) holds NaN or infinite values") }
        }
        for (n, v) in [("errormean", errorMean), ("errorstd", errorStd), ("residualmean", residualMean), ("residualstd", residualStd)] {
            if let v, v.contains(where: { $0 < 0 }) { throw .tensors("score.\(n) must not be negative") }
        }
        if let lo = dataMin, let hi = dataMax, zip(lo, hi).contains(where: { $0 > $1 }) { throw .tensors("score.min exceeds score.max") }
    }
}
