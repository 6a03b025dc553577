import Autograd
import Testing
import TensorCore

/// The outcome of comparing autograd's gradients with central differences.
public struct GradCheckResult: CustomStringConvertible {
    public var worst: Float = 0
    public var worstInput = -1
    public var worstIndex = -1
    public var analytic: Float = 0
    public var numeric: Float = 0
    public var checked = 0
    public var description: String {
        "input \(worstInput) element \(worstIndex): analytic \(analytic), numeric \(numeric) (excess \(worst)) over \(checked) elements"
    }
}

/// Checks every input's gradient of `f` against central differences.
///
/// The scalar objective is `Σ f(x)ᵢ·rᵢ` for a fixed random `r`, so the whole vector-Jacobian product is
/// exercised, not just the gradient of a sum. The objective is accumulated in Double to keep float32
/// round-off out of the finite differences. An element fails when
/// `|analytic − numeric| > atol + rtol·|numeric|`.
@discardableResult
public func gradCheck(
    _ inputs: [Tensor], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 1e-2, seed: UInt64 = 7,
    _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation,
    _ f: ([Variable]) -> Variable
) -> GradCheckResult {
    var rng = RandomGenerator(seed: seed)
    let vars = inputs.map { Variable($0, requiresGrad: true) }
    let y = f(vars)
    let r = Tensor.uniform(y.shape, low: -1, high: 1, using: &rng)
    y.backward(seed: r)

    func objective(_ xs: [Tensor]) -> Double {
        let out = withNoGrad { f(xs.map { Variable($0) }) }.value.scalars
        let rs = r.scalars
        var acc = 0.0
        for i in 0..<out.count { acc += Double(out[i]) * Double(rs[i]) }
        return acc
    }

    var result = GradCheckResult()
    for (k, x) in inputs.enumerated() {
        let analytic = vars[k].grad ?? Tensor.zeros(x.shape)
        for i in 0..<x.scalarCount {
            var plus = inputs, minus = inputs
            plus[k].withUnsafeMutableBufferPointer { $0[i] += eps }
            minus[k].withUnsafeMutableBufferPointer { $0[i] -= eps }
            let numeric = Float((objective(plus) - objective(minus)) / (2 * Double(eps)))
            let a = analytic.scalars[i]
            let excess = abs(a - numeric) - (atol + rtol * abs(numeric))
            result.checked += 1
            if excess > result.worst || excess.isNaN {
                result = GradCheckResult(worst: excess.isNaN ? .infinity : excess, worstInput: k, worstIndex: i,
                                         analytic: a, numeric: numeric, checked: result.checked)
            }
        }
    }
    if result.worst > 0 {
        Issue.record("gradient check failed \(what): \(result)", sourceLocation: sourceLocation)
    }
    return result
}
