import TensorCore

/// A column-wise transform of `(N, F)` data, configured like numalogic's preprocess entries.
///
/// Stateful transforms learn statistics in ``fit(_:)`` which a checkpoint stores as
/// `preprocess.<index>.<stat>` (the fitted attribute's sklearn/numalogic name without underscores).
public protocol PreprocessTransform: Sendable {
    /// The config name (`StandardScaler`, `LogTransformer`, …).
    var name: String { get }
    /// The constructor arguments in numalogic's names.
    var conf: JSONObject { get }
    /// Whether ``fit(_:)`` learns anything (and a checkpoint must hold its statistics).
    var isStateful: Bool { get }
    mutating func fit(_ x: Tensor) throws(ScoringError)
    func transform(_ x: Tensor) -> Tensor
    /// The inverse map where numalogic has one.
    func inverseTransform(_ x: Tensor) -> Tensor?
    /// Fitted statistics by stat name, each `(F,)` unless documented otherwise.
    var stats: [(String, Tensor)] { get }
    /// Restores fitted statistics (all of ``stats``' names, `(features,)` shaped).
    mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError)
    /// The transform as a per-element map, when it is one (each value depends only on itself and its column):
    /// `transform` then is exactly this map, and scoring can apply it in place (``ElementwiseTransform/apply(_:count:features:)``).
    var elementwise: ElementwiseTransform? { get }
    /// The inverse as a per-element map, when it is one (`inverseTransform` then is exactly this map).
    var elementwiseInverse: ElementwiseTransform? { get }
}

/// A preprocess step that maps every value on its own, by its column: the one implementation of those transforms'
/// arithmetic, used both by their `transform(_:)` and in place by scoring (so the two agree bit for bit).
public enum ElementwiseTransform: Sendable {
    /// `(v − sub[c]) / div[c]` (StandardScaler, RobustScaler).
    case subtractDivide(sub: [Float], div: [Float])
    /// `v · mul[c] + add[c]` (MinMaxScaler).
    case multiplyAdd(mul: [Float], add: [Float])
    /// `v / div[c]` (MaxAbsScaler).
    case divide([Float])
    /// `v · mul[c]` (MaxAbsScaler's inverse).
    case multiply([Float])
    /// `ln(v + add)` (LogTransformer).
    case log(add: Float)
    /// `exp(v) − sub` (LogTransformer's inverse).
    case expSubtract(sub: Float)
    /// `(v + add)^n` (StaticPowerTransformer).
    case power(add: Float, n: Float)
    /// `v^(1/n) − sub` (StaticPowerTransformer's inverse).
    case rootSubtract(n: Float, sub: Float)

    /// Applies the map in place to `count` values laid out as rows of `features`.
    public func apply(_ x: UnsafeMutablePointer<Float>, count: Int, features f: Int) {
        let (kind, a, b, s, t) = parameters
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                ElementwiseStep(kind: kind, a: a.baseAddress, b: b.baseAddress, s: s, t: t).apply(x, count: count, features: f)
            }
        }
    }

    /// The map as a step kind, its per-column parameters (`a`, `b`; empty when unused) and its scalars (`s`, `t`).
    var parameters: (kind: ElementwiseStep.Kind, a: [Float], b: [Float], s: Float, t: Float) {
        switch self {
        case .subtractDivide(let sub, let div): (.subtractDivide, sub, div, 0, 0)
        case .multiplyAdd(let mul, let add): (.multiplyAdd, mul, add, 0, 0)
        case .divide(let div): (.divide, div, [], 0, 0)
        case .multiply(let mul): (.multiply, mul, [], 0, 0)
        case .log(let add): (.log, [], [], add, 0)
        case .expSubtract(let sub): (.expSubtract, [], [], sub, 0)
        case .power(let add, let n): (.power, [], [], add, n)
        case .rootSubtract(let n, let sub): (.rootSubtract, [], [], n, sub)
        }
    }

    /// The map applied to a copy of `x` (rows of its last dimension's width).
    public func applied(to x: Tensor) -> Tensor {
        guard x.shape.elementCount > 0 else { return x }
        var out = x
        let f = x.rank == 0 ? 1 : x.shape[x.rank - 1]
        out.withUnsafeMutableBufferPointer { apply($0.baseAddress!, count: $0.count, features: f) }
        return out
    }
}

/// An ``ElementwiseTransform`` over parameters it does not own (pointers into the owner's memory): the one
/// implementation of the maps' arithmetic. A plain value: a scoring pipeline keeps its chain as steps in one
/// allocation with their parameters, and applying them per window retains nothing (the enum's array payloads
/// were retained and released per window, each a separate object on a key's cold path).
struct ElementwiseStep {
    enum Kind: UInt8 { case subtractDivide, multiplyAdd, divide, multiply, log, expSubtract, power, rootSubtract }
    let kind: Kind
    /// Per-column parameters (`features` each) where the kind has them.
    let a: UnsafePointer<Float>?, b: UnsafePointer<Float>?
    /// Scalar parameters where the kind has them.
    let s: Float, t: Float

    /// Applies the map in place to `count` values laid out as rows of `features`.
    func apply(_ x: UnsafeMutablePointer<Float>, count: Int, features f: Int) {
        // Row by row (a division per element to find its column cost more than the arithmetic on large batches).
        guard count > 0 else { return }
        let rows = count / f
        precondition(rows * f == count, "\(count) values are not rows of \(f)")
        switch kind {
        case .subtractDivide:
            let (sub, div) = (a!, b!)
            for r in 0..<rows { let row = x + r * f; for c in 0..<f { row[c] = (row[c] - sub[c]) / div[c] } }
        case .multiplyAdd:
            let (mul, add) = (a!, b!)
            for r in 0..<rows { let row = x + r * f; for c in 0..<f { row[c] = row[c] * mul[c] + add[c] } }
        case .divide:
            let div = a!
            for r in 0..<rows { let row = x + r * f; for c in 0..<f { row[c] = row[c] / div[c] } }
        case .multiply:
            let mul = a!
            for r in 0..<rows { let row = x + r * f; for c in 0..<f { row[c] = row[c] * mul[c] } }
        case .log:
            for i in 0..<count { x[i] = ScalarMath.log(x[i] + s) }
        case .expSubtract:
            for i in 0..<count { x[i] = ScalarMath.exp(x[i]) - s }
        case .power:
            for i in 0..<count { x[i] = ScalarMath.pow(x[i] + s, t) }
        case .rootSubtract:
            for i in 0..<count { x[i] = ScalarMath.pow(x[i], 1 / s) - t }
        }
    }
}

extension PreprocessTransform {
    public var elementwise: ElementwiseTransform? { nil }
    public var elementwiseInverse: ElementwiseTransform? { nil }
    public var isStateful: Bool { false }
    public var stats: [(String, Tensor)] { [] }
    public func inverseTransform(_ x: Tensor) -> Tensor? { nil }
    public mutating func fit(_ x: Tensor) throws(ScoringError) {}
    public mutating func restore(_ stats: [String: Tensor], features: Int) throws(ScoringError) {
        guard stats.isEmpty else { throw .invalidShape("\(name) has no statistics, got \(stats.keys.sorted())") }
    }

    public mutating func fitTransform(_ x: Tensor) throws(ScoringError) -> Tensor {
        try fit(x)
        return transform(x)
    }
}

/// Checks `(N, F)` input with at least one row and finite values.
func checkFitData(_ x: Tensor, _ who: String) throws(ScoringError) {
    guard x.rank == 2, x.shape[0] > 0 else { throw .invalidShape("\(who) fits (rows > 0, features) data, got \(x.shape)") }
    guard x.isFinite else { throw .invalidData("\(who) cannot fit NaN or infinite values") }
}

/// Restores named `(features,)` statistics, checking names and shapes.
func restoreStats(_ stats: [String: Tensor], _ names: [String], features: Int, _ who: String) throws(ScoringError) -> [Tensor] {
    guard Set(stats.keys) == Set(names) else {
        throw .invalidShape("\(who) needs statistics \(names.sorted()), got \(stats.keys.sorted())")
    }
    return try names.map { (n) throws(ScoringError) -> Tensor in
        let t = stats[n]!
        guard t.shape == [features] else { throw .invalidShape("\(who) statistic \(n) has shape \(t.shape), expected [\(features)]") }
        guard t.isFinite else { throw .invalidData("\(who) statistic \(n) holds NaN or infinite values") }
        return t
    }
}

/// Per-column statistics computed in double precision.
enum ColumnStats {
    static func columns(_ x: Tensor) -> [[Double]] {
        let (n, f) = (x.shape[0], x.shape[1])
        let v = x.scalars
        return (0..<f).map { c in (0..<n).map { Double(v[$0 * f + c]) } }
    }

    static func mean(_ c: [Double]) -> Double { c.reduce(0, +) / Double(c.count) }

    /// Population variance (ddof 0), two-pass.
    static func variance(_ c: [Double]) -> Double {
        let m = mean(c)
        return c.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(c.count)
    }

    /// NumPy's default (linear interpolation) percentile, `q` in 0…100.
    static func percentile(_ c: [Double], _ q: Double) -> Double {
        let s = c.sorted()
        let pos = q / 100 * Double(s.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, s.count - 1)
        return s[lo] + (pos - Double(lo)) * (s[hi] - s[lo])
    }

    /// sklearn's `_handle_zeros_in_scale`: scales below 10·ε (or flagged constant) become 1.
    static func safeScale(_ s: Double, constant: Bool = false) -> Double {
        constant || s < 10 * Double.ulpOfOne ? 1 : s
    }
}

/// Applies `op(x[r, c], column c)` to every element.
func columnwise(_ x: Tensor, _ op: (Float, Int) -> Float) -> Tensor {
    let f = x.shape[x.rank - 1]
    var out = Tensor(uninitializedShape: x.shape)
    x.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for i in 0..<src.count { dst[i] = op(src[i], i % f) }
        }
    }
    return out
}
