import TensorCore

/// sklearn's `StandardScaler`: `(x − mean)/scale` with the population standard deviation; near-constant
/// columns (sklearn's `_is_constant_feature` test) get scale 1. Stats `mean`, `scale`.
public struct StandardScaler: PreprocessTransform {
    public let name = "StandardScaler"
    public var withMean = true, withStd = true
    public private(set) var mean: [Float] = [], scale: [Float] = []
    public var isStateful: Bool { true }
    public var conf: JSONObject { JSONObject([("with_mean", .bool(withMean)), ("with_std", .bool(withStd))]) }
    public init(withMean: Bool = true, withStd: Bool = true) { (self.withMean, self.withStd) = (withMean, withStd) }

    public mutating func fit(_ x: Tensor) throws(ScoringError) {
        try checkFitData(x, name)
        let n = Double(x.shape[0])
        var m: [Float] = [], s: [Float] = []
        for c in ColumnStats.columns(x) {
            let mu = ColumnStats.mean(c), v = ColumnStats.variance(c)
            let bound = n * Double.ulpOfOne * v + (n * mu * Double.ulpOfOne) * (n * mu * Double.ulpOfOne)
            m.append(withMean ? Float(mu) : 0)
            s.append(withStd ? Float(ColumnStats.safeScale(v.squareRoot(), constant: v <= bound)) : 1)
        }
        (mean, scale) = (m, s)
    }

    public var elementwise: ElementwiseTransform? { .subtractDivide(sub: mean, div: scale) }
    public func transform(_ x: Tensor) -> Tensor { ElementwiseTransform.subtractDivide(sub: mean, div: scale).applied(to: x) }
    public var elementwiseInverse: ElementwiseTransform? { .multiplyAdd(mul: scale, add: mean) }
    public func inverseTransform(_ x: Tensor) -> Tensor? { ElementwiseTransform.multiplyAdd(mul: scale, add: mean).applied(to: x) }
    public var stats: [(String, Tensor)] { [("mean", Tensor(mean)), ("scale", Tensor(scale))] }
    public mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError) {
        let t = try restoreStats(stats, ["mean", "scale"], features: features, name)
        (mean, scale) = (t[0].scalars, try positive(t[1].scalars, "scale", name))
    }
}

/// sklearn's `MinMaxScaler` to `feature_range` (default 0…1): `x·scale + min`. Stats `min`, `scale`.
public struct MinMaxScaler: PreprocessTransform {
    public let name = "MinMaxScaler"
    public var featureRange: (Float, Float)
    public private(set) var min: [Float] = [], scale: [Float] = []
    public var isStateful: Bool { true }
    public var conf: JSONObject { JSONObject([("feature_range", .array([.double(Double(featureRange.0)), .double(Double(featureRange.1))]))]) }
    public init(featureRange: (Float, Float) = (0, 1)) { self.featureRange = featureRange }

    public mutating func fit(_ x: Tensor) throws(ScoringError) {
        try checkFitData(x, name)
        var mn: [Float] = [], sc: [Float] = []
        for c in ColumnStats.columns(x) {
            let lo = c.min()!, hi = c.max()!
            let s = Double(featureRange.1 - featureRange.0) / ColumnStats.safeScale(hi - lo)
            sc.append(Float(s))
            mn.append(Float(Double(featureRange.0) - lo * s))
        }
        (min, scale) = (mn, sc)
    }

    public var elementwise: ElementwiseTransform? { .multiplyAdd(mul: scale, add: min) }
    public func transform(_ x: Tensor) -> Tensor { ElementwiseTransform.multiplyAdd(mul: scale, add: min).applied(to: x) }
    public var elementwiseInverse: ElementwiseTransform? { .subtractDivide(sub: min, div: scale) }
    public func inverseTransform(_ x: Tensor) -> Tensor? { ElementwiseTransform.subtractDivide(sub: min, div: scale).applied(to: x) }
    public var stats: [(String, Tensor)] { [("min", Tensor(min)), ("scale", Tensor(scale))] }
    public mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError) {
        let t = try restoreStats(stats, ["min", "scale"], features: features, name)
        (min, scale) = (t[0].scalars, try positive(t[1].scalars, "scale", name))
    }
}

/// sklearn's `MaxAbsScaler`: `x / max|x|` (zero columns keep scale 1). Stat `scale`.
public struct MaxAbsScaler: PreprocessTransform {
    public let name = "MaxAbsScaler"
    public private(set) var scale: [Float] = []
    public var isStateful: Bool { true }
    public var conf: JSONObject { JSONObject() }
    public init() {}

    public mutating func fit(_ x: Tensor) throws(ScoringError) {
        try checkFitData(x, name)
        scale = ColumnStats.columns(x).map { c in Float(ColumnStats.safeScale(c.map { Swift.abs($0) }.max()!)) }
    }

    public var elementwise: ElementwiseTransform? { .divide(scale) }
    public func transform(_ x: Tensor) -> Tensor { ElementwiseTransform.divide(scale).applied(to: x) }
    public var elementwiseInverse: ElementwiseTransform? { .multiply(scale) }
    public func inverseTransform(_ x: Tensor) -> Tensor? { ElementwiseTransform.multiply(scale).applied(to: x) }
    public var stats: [(String, Tensor)] { [("scale", Tensor(scale))] }
    public mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError) {
        scale = try positive(try restoreStats(stats, ["scale"], features: features, name)[0].scalars, "scale", name)
    }
}

/// sklearn's `RobustScaler`: `(x − median)/(q_hi − q_lo)` with `quantile_range` (25, 75). Stats `center`, `scale`.
public struct RobustScaler: PreprocessTransform {
    public let name = "RobustScaler"
    public var withCentering = true, withScaling = true
    public var quantileRange: (Double, Double) = (25, 75)
    public private(set) var center: [Float] = [], scale: [Float] = []
    public var isStateful: Bool { true }
    public var conf: JSONObject {
        JSONObject([("with_centering", .bool(withCentering)), ("with_scaling", .bool(withScaling)),
                    ("quantile_range", .array([.double(quantileRange.0), .double(quantileRange.1)]))])
    }
    public init(withCentering: Bool = true, withScaling: Bool = true, quantileRange: (Double, Double) = (25, 75)) {
        (self.withCentering, self.withScaling, self.quantileRange) = (withCentering, withScaling, quantileRange)
    }

    public mutating func fit(_ x: Tensor) throws(ScoringError) {
        try checkFitData(x, name)
        var ce: [Float] = [], sc: [Float] = []
        for c in ColumnStats.columns(x) {
            ce.append(withCentering ? Float(ColumnStats.percentile(c, 50)) : 0)
            let iqr = ColumnStats.percentile(c, quantileRange.1) - ColumnStats.percentile(c, quantileRange.0)
            sc.append(withScaling ? Float(ColumnStats.safeScale(iqr)) : 1)
        }
        (center, scale) = (ce, sc)
    }

    public var elementwise: ElementwiseTransform? { .subtractDivide(sub: center, div: scale) }
    public func transform(_ x: Tensor) -> Tensor { ElementwiseTransform.subtractDivide(sub: center, div: scale).applied(to: x) }
    public var elementwiseInverse: ElementwiseTransform? { .multiplyAdd(mul: scale, add: center) }
    public func inverseTransform(_ x: Tensor) -> Tensor? { ElementwiseTransform.multiplyAdd(mul: scale, add: center).applied(to: x) }
    public var stats: [(String, Tensor)] { [("center", Tensor(center)), ("scale", Tensor(scale))] }
    public mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError) {
        let t = try restoreStats(stats, ["center", "scale"], features: features, name)
        (center, scale) = (t[0].scalars, try positive(t[1].scalars, "scale", name))
    }
}

/// numalogic's `TanhScaler`: `0.5·(tanh(coeff·(x − mean)/std) + 1)` with population std; columns whose
/// range is below `eps` get std 1. Stats `mean`, `std`.
public struct TanhScaler: PreprocessTransform {
    public let name = "TanhScaler"
    public var coeff: Float, eps: Double
    public private(set) var mean: [Float] = [], std: [Float] = []
    public var isStateful: Bool { true }
    public var conf: JSONObject { JSONObject([("coeff", .double(Double(coeff))), ("eps", .double(eps))]) }
    public init(coeff: Float = 0.2, eps: Double = 1e-10) { (self.coeff, self.eps) = (coeff, eps) }

    public mutating func fit(_ x: Tensor) throws(ScoringError) {
        try checkFitData(x, name)
        var m: [Float] = [], s: [Float] = []
        for c in ColumnStats.columns(x) {
            m.append(Float(ColumnStats.mean(c)))
            s.append(c.max()! - c.min()! < eps ? 1 : Float(ColumnStats.variance(c).squareRoot()))
        }
        (mean, std) = (m, s)
    }

    public func transform(_ x: Tensor) -> Tensor {
        columnwise(x) { (v, c) in 0.5 * (ScalarMath.tanh(coeff * (v - mean[c]) / std[c]) + 1) }
    }
    public var stats: [(String, Tensor)] { [("mean", Tensor(mean)), ("std", Tensor(std))] }
    public mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError) {
        let t = try restoreStats(stats, ["mean", "std"], features: features, name)
        (mean, std) = (t[0].scalars, try positive(t[1].scalars, "std", name))
    }
}

/// numalogic's `PercentileScaler`: fit the `max_percentile` (and min or `min_percentile`) per column; a
/// column whose percentile range is ≤ `eps` uses its max instead; a MinMaxScaler is fitted on the data
/// clipped to that range and then applied to the *unclipped* data. Stats `datapthmax`, `datapthmin`,
/// `min`, `scale`.
public struct PercentileScaler: PreprocessTransform {
    public let name = "PercentileScaler"
    public var maxPercentile: Double, minPercentile: Double?, eps: Double
    public private(set) var dataPthMax: [Float] = [], dataPthMin: [Float] = []
    private var scaler = MinMaxScaler()
    public var isStateful: Bool { true }
    public var conf: JSONObject {
        JSONObject([("max_percentile", .double(maxPercentile)), ("min_percentile", minPercentile.map { .double($0) } ?? .null),
                    ("eps", .double(eps))])
    }
    public init(maxPercentile: Double = 99, minPercentile: Double? = nil, eps: Double = 1e-2) {
        (self.maxPercentile, self.minPercentile, self.eps) = (maxPercentile, minPercentile, eps)
    }

    public mutating func fit(_ x: Tensor) throws(ScoringError) {
        try checkFitData(x, name)
        var hi: [Float] = [], lo: [Float] = []
        for c in ColumnStats.columns(x) {
            var pmax = ColumnStats.percentile(c, maxPercentile)
            let pmin = minPercentile.map { ColumnStats.percentile(c, $0) } ?? c.min()!
            if pmax - pmin <= eps { pmax = c.max()! }
            hi.append(Float(pmax))
            lo.append(Float(pmin))
        }
        (dataPthMax, dataPthMin) = (hi, lo)
        try scaler.fit(columnwise(x) { (v, c) in Swift.min(Swift.max(v, lo[c]), hi[c]) })
    }

    public func transform(_ x: Tensor) -> Tensor { scaler.transform(x) }
    public var stats: [(String, Tensor)] {
        [("datapthmax", Tensor(dataPthMax)), ("datapthmin", Tensor(dataPthMin))] + scaler.stats
    }
    public mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError) {
        let t = try restoreStats(stats, ["datapthmax", "datapthmin", "min", "scale"], features: features, name)
        (dataPthMax, dataPthMin) = (t[0].scalars, t[1].scalars)
        try scaler.restore(["min": t[2], "scale": t[3]], features: features)
    }
}

/// A fitted divisor must be positive (and was checked finite): a zero or negative scale would turn every
/// later point into NaN or infinity instead of a score.
func positive(_ v: [Float], _ stat: String, _ who: String) throws(ScoringError) -> [Float] {
    guard v.allSatisfy({ $0 > 0 }) else { throw .invalidData("\(who) statistic \(stat) must be positive, got \(v)") }
    return v
}
