import TensorCore

/// How scores are reduced over the window or over features (numalogic's `AggMethod` with its `conf`).
public enum Aggregation: Equatable, Sendable {
    case mean, max, min
    /// `np.average`: a plain mean unless weights are given (one per value).
    case weightedAverage(weights: [Float]?)
    /// numalogic's `expmov_avg_aggregator`: `(1−β)·Σ β^{n−1−i} xᵢ`, divided by `1 − βⁿ` when bias-corrected.
    case expMovingAverage(beta: Float, biasCorrection: Bool)

    public func reduce(_ values: [Float]) -> Float {
        guard !values.isEmpty else { return .nan }
        switch self {
        case .mean: return values.reduce(0, +) / Float(values.count)
        case .max: return values.max()!
        case .min: return values.min()!
        case .weightedAverage(let w):
            guard let w, w.count == values.count else { return values.reduce(0, +) / Float(values.count) }
            let total = w.reduce(0, +)
            return zip(values, w).reduce(0) { $0 + $1.0 * $1.1 } / total
        case .expMovingAverage(let beta, let corrected):
            var acc = 0.0
            let b = Double(beta), n = values.count
            for (i, v) in values.enumerated() { acc += (1 - b) * pow(b, Double(n - 1 - i)) * Double(v) }
            return Float(corrected ? acc / (1 - pow(b, Double(n))) : acc)
        }
    }

    /// Reduces each column of `(N, F)` → `(F)`.
    public func reduceColumns(_ x: Tensor) -> [Float] {
        let (n, f) = (x.shape[0], x.shape[1])
        let v = x.scalars
        return (0..<f).map { c in reduce((0..<n).map { v[$0 * f + c] }) }
    }

    /// Parses `{method, conf}` (method names as numalogic's `AggMethod` values or enum names).
    public static func read(_ r: inout JSONObjectReader) throws(ConfigReadError) -> Aggregation {
        let method = try r.string("method", default: "mean").lowercased()
        var conf = try r.object("conf")
        let agg: Aggregation
        switch method {
        case "mean": agg = .mean
        case "max": agg = .max
        case "min": agg = .min
        case "weighted_average":
            agg = .weightedAverage(weights: try conf.floats("weights")?.values)
        case "exp_moving_average":
            let beta = try conf.float("beta", default: 0.5)
            guard beta > 0 && beta < 1 else { throw ConfigReadError(path: conf.child("beta"), reason: "only accepts values between 0 and 1 (not inclusive)") }
            agg = .expMovingAverage(beta: beta, biasCorrection: try conf.bool("bias_correction", default: true))
        default:
            throw ConfigReadError(path: r.child("method"), reason: "unknown aggregation \"\(method)\"; expected mean, max, min, weighted_average or exp_moving_average")
        }
        try conf.finish()
        try r.finish()
        return agg
    }

    public var json: JSONValue {
        switch self {
        case .mean: .object(JSONObject([("method", .string("mean"))]))
        case .max: .object(JSONObject([("method", .string("max"))]))
        case .min: .object(JSONObject([("method", .string("min"))]))
        case .weightedAverage(let w):
            .object(JSONObject([("method", .string("weighted_average")),
                                ("conf", .object(JSONObject(w.map { [("weights", .array($0.map { .double(Double($0)) }))] } ?? [])))]))
        case .expMovingAverage(let b, let c):
            .object(JSONObject([("method", .string("exp_moving_average")),
                                ("conf", .object(JSONObject([("beta", .double(Double(b))), ("bias_correction", .bool(c))])))]))
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Maps raw ratio-scores to the 0–10 range (numalogic's postprocess), or smooths a key's consecutive
/// scores.
public enum Postprocess: Equatable, Sendable {
    /// `scale·tanh(x/smooth)` (defaults 10, 10): a ratio of 1 maps to ≈ 0.997.
    case tanhNorm(scaleFactor: Float, smoothFactor: Float)
    /// `scale / (1 + exp(5 − smooth·x))` (defaults 10, 0.5).
    case sigmoidNorm(scaleFactor: Float, smoothFactor: Float)
    /// Exponential moving average over a key's consecutive unified scores (AEFlow's fix: numalogic's
    /// version cannot run on a single score). Feature scores pass through unchanged.
    case expMovingAverage(beta: Float)

    public func apply(_ x: Float) -> Float {
        switch self {
        case .tanhNorm(let s, let sm): Float(Double(s) * tanh(Double(x) / Double(sm)))
        case .sigmoidNorm(let s, let sm): Float(Double(s) / (1 + exp(5 - Double(sm) * Double(x))))
        case .expMovingAverage: x
        }
    }

    public static let names = ["TanhNorm", "SigmoidNorm", "ExpMovingAverage"]

    public static func make(_ spec: ComponentSpec, path: String) throws(ConfigReadError) -> Postprocess {
        var c = JSONObjectReader(spec.conf, path: path + ".conf")
        let p: Postprocess
        switch spec.name {
        case "TanhNorm": p = .tanhNorm(scaleFactor: try c.float("scale_factor", default: 10), smoothFactor: try c.float("smooth_factor", default: 10))
        case "SigmoidNorm": p = .sigmoidNorm(scaleFactor: try c.float("scale_factor", default: 10), smoothFactor: try c.float("smooth_factor", default: 0.5))
        case "ExpMovingAverage":
            let beta = try c.float("beta", default: 0.5)
            guard beta > 0 && beta < 1 else { throw ConfigReadError(path: c.child("beta"), reason: "only accepts values between 0 and 1 (not inclusive)") }
            p = .expMovingAverage(beta: beta)
        default:
            throw ConfigReadError(path: path + ".name", reason: "unknown postprocess \"\(spec.name)\"; known: \(names.joined(separator: ", "))")
        }
        try c.finish()
        return p
    }
}
