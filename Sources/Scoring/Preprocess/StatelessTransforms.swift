import Synchronization
import TensorCore

/// `ln(x + add_factor)`; inverse `exp(x) − add_factor`.
public struct LogTransformer: PreprocessTransform {
    public let name = "LogTransformer"
    public var addFactor: Float
    public var conf: JSONObject { JSONObject([("add_factor", .double(Double(addFactor)))]) }
    public init(addFactor: Float = 2) { self.addFactor = addFactor }
    public var elementwise: ElementwiseTransform? { .log(add: addFactor) }
    public func transform(_ x: Tensor) -> Tensor { ElementwiseTransform.log(add: addFactor).applied(to: x) }
    public var elementwiseInverse: ElementwiseTransform? { .expSubtract(sub: addFactor) }
    public func inverseTransform(_ x: Tensor) -> Tensor? { ElementwiseTransform.expSubtract(sub: addFactor).applied(to: x) }
}

/// `(x + add_factor)^n`; inverse `x^(1/n) − add_factor`.
public struct StaticPowerTransformer: PreprocessTransform {
    public let name = "StaticPowerTransformer"
    public var n: Float, addFactor: Float
    public var conf: JSONObject { JSONObject([("n", .double(Double(n))), ("add_factor", .double(Double(addFactor)))]) }
    public init(n: Float, addFactor: Float = 0) { (self.n, self.addFactor) = (n, addFactor) }
    public var elementwise: ElementwiseTransform? { .power(add: addFactor, n: n) }
    public func transform(_ x: Tensor) -> Tensor { ElementwiseTransform.power(add: addFactor, n: n).applied(to: x) }
    public var elementwiseInverse: ElementwiseTransform? { .rootSubtract(n: n, sub: addFactor) }
    public func inverseTransform(_ x: Tensor) -> Tensor? { ElementwiseTransform.rootSubtract(n: n, sub: addFactor).applied(to: x) }
}

/// Clips each column to `[lower, upper]` (scalars or per-column lists; either may be absent).
public struct DataClipper: PreprocessTransform {
    public let name = "DataClipper"
    public var lower: [Float]?, upper: [Float]?
    public var conf: JSONObject {
        func v(_ xs: [Float]?) -> JSONValue {
            guard let xs else { return .null }
            return xs.count == 1 ? .double(Double(xs[0])) : .array(xs.map { .double(Double($0)) })
        }
        return JSONObject([("lower", v(lower)), ("upper", v(upper))])
    }

    /// numalogic's validation: at least one bound; lists of equal length; lower ≤ upper.
    public init(lower: [Float]?, upper: [Float]?) throws(ScoringError) {
        guard lower != nil || upper != nil else {
            throw .invalidConfig(path: "DataClipper", reason: "at least one of lower or upper should be provided")
        }
        if let l = lower, let u = upper {
            if l.count > 1 && u.count > 1 && l.count != u.count {
                throw .invalidConfig(path: "DataClipper", reason: "lower and upper should have the same length")
            }
            let n = max(l.count, u.count)
            for i in 0..<n where l[l.count == 1 ? 0 : i] > u[u.count == 1 ? 0 : i] {
                throw .invalidConfig(path: "DataClipper", reason: "lower value should be less than or equal to upper value")
            }
        }
        (self.lower, self.upper) = (lower, upper)
    }

    public func transform(_ x: Tensor) -> Tensor {
        columnwise(x) { (v, c) in
            var y = v
            if let l = lower { y = Swift.max(y, l[l.count == 1 ? 0 : Swift.min(c, l.count - 1)]) }
            if let u = upper { y = Swift.min(y, u[u.count == 1 ? 0 : Swift.min(c, u.count - 1)]) }
            return y
        }
    }
}

/// Row-wise first difference per column; row 0 takes row 1's difference (pandas `diff().bfill()`).
public struct DifferenceTransform: PreprocessTransform {
    public let name = "DifferenceTransform"
    public var conf: JSONObject { JSONObject() }
    public init() {}
    public func transform(_ x: Tensor) -> Tensor {
        let (n, f) = (x.shape[0], x.shape[1])
        guard n > 1 else { return Tensor(shape: x.shape, repeating: .nan) }
        let v = x.scalars
        var out = [Float](repeating: 0, count: n * f)
        for r in 1..<n { for c in 0..<f { out[r * f + c] = v[r * f + c] - v[(r - 1) * f + c] } }
        for c in 0..<f { out[c] = out[f + c] }
        return Tensor(shape: x.shape, scalars: out)
    }
}

/// numalogic's `ExpMovingAverage` transform: pandas `ewm(alpha = 1 − beta, adjust=True).mean()` per
/// column, `y_t = Σ βⁱ x_{t−i} / Σ βⁱ`.
public struct ExpMovingAverage: PreprocessTransform {
    public let name = "ExpMovingAverage"
    public var beta: Float
    public var conf: JSONObject { JSONObject([("beta", .double(Double(beta)))]) }
    public init(beta: Float = 0.5) throws(ScoringError) {
        guard beta > 0 && beta < 1 else { throw .invalidConfig(path: "ExpMovingAverage.beta", reason: "only accepts values between 0 and 1 (not inclusive)") }
        self.beta = beta
    }
    public func transform(_ x: Tensor) -> Tensor {
        let (n, f) = (x.shape[0], x.shape[1])
        let v = x.scalars
        var out = [Float](repeating: 0, count: n * f)
        let b = Double(beta)
        for c in 0..<f {
            var num = 0.0, den = 0.0
            for r in 0..<n {
                num = num * b + Double(v[r * f + c])
                den = den * b + 1
                out[r * f + c] = Float(num / den)
            }
        }
        return Tensor(shape: x.shape, scalars: out)
    }
}

/// Adds `|N(0, scale)|` (or signed noise) to every element; the generator persists across calls, seeded.
public struct GaussianNoiseAdder: PreprocessTransform {
    public let name = "GaussianNoiseAdder"
    public var scale: Float, positiveOnly: Bool, seed: UInt64
    // A shared, locked generator so that `transform` stays non-mutating (the stream persists across calls).
    private let rng: SharedGenerator
    public var conf: JSONObject {
        JSONObject([("scale", .double(Double(scale))), ("positive_only", .bool(positiveOnly)), ("seed", .int(Int64(seed)))])
    }
    public init(scale: Float = 1e-8, positiveOnly: Bool = true, seed: UInt64 = 42) {
        (self.scale, self.positiveOnly, self.seed) = (scale, positiveOnly, seed)
        rng = SharedGenerator(seed: seed)
    }
    public func transform(_ x: Tensor) -> Tensor {
        let noise = rng.normals(x.scalarCount)
        var i = -1
        return x.map { v in
            i += 1
            let z = noise[i] * scale
            return v + (positiveOnly ? Swift.abs(z) : z)
        }
    }
}

/// A seeded generator shared by copies of a transform, guarded by a mutex.
final class SharedGenerator: Sendable {
    private let state: Mutex<RandomGenerator>
    init(seed: UInt64) { state = Mutex(RandomGenerator(seed: seed)) }
    func normals(_ n: Int) -> [Float] { state.withLock { g in (0..<n).map { _ in g.nextNormal() } } }
}
