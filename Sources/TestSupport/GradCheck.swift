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
        "variable \(worstInput) element \(worstIndex): analytic \(analytic), numeric \(numeric) (excess \(worst)) over \(checked) elements"
    }
}

/// Checks the gradients of `f` with respect to `leaves` (which `f` reads, e.g. a module's parameters
/// and an input) against central differences.
///
/// The scalar objective is `Σ f()ᵢ·rᵢ` for a fixed random `r`, so the whole vector-Jacobian product is
/// exercised. Perturbed evaluations run under no-grad and are accumulated in Double to keep float32
/// round-off out of the differences. An element fails when `|analytic − numeric| > atol + rtol·|numeric|`.
@discardableResult
public func gradCheck(
    leaves: [Variable], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 1e-2, seed: UInt64 = 7,
    _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation,
    _ f: () -> Variable
) -> GradCheckResult {
    precondition(leaves.allSatisfy { $0.requiresGrad && $0.isLeaf }, "gradCheck needs leaf variables that require gradients")
    var rng = RandomGenerator(seed: seed)
    for v in leaves { v.grad = nil }
    let y = f()
    let r = Tensor.uniform(y.shape, low: -1, high: 1, using: &rng)
    y.backward(seed: r)
    let rs = r.scalars

    func objective() -> Double {
        let out = withNoGrad { f() }.value.scalars
        var acc = 0.0
        for i in 0..<out.count { acc += Double(out[i]) * Double(rs[i]) }
        return acc
    }

    var result = GradCheckResult()
    for (k, v) in leaves.enumerated() {
        let original = v.value
        let analytic = (v.grad ?? Tensor.zeros(original.shape)).scalars
        for i in 0..<original.scalarCount {
            var plus = original, minus = original
            plus.withUnsafeMutableBufferPointer { $0[i] += eps }
            minus.withUnsafeMutableBufferPointer { $0[i] -= eps }
            v.value = plus
            let fp = objective()
            v.value = minus
            let fm = objective()
            v.value = original
            let numeric = Float((fp - fm) / (2 * Double(eps)))
            let excess = abs(analytic[i] - numeric) - (atol + rtol * abs(numeric))
            result.checked += 1
            if excess > result.worst || excess.isNaN {
                result = GradCheckResult(worst: excess.isNaN ? .infinity : excess, worstInput: k, worstIndex: i,
                                         analytic: analytic[i], numeric: numeric, checked: result.checked)
            }
        }
    }
    if result.worst > 0 {
        Issue.record("gradient check failed \(what): \(result)", sourceLocation: sourceLocation)
    }
    return result
}

/// ``gradCheck(leaves:eps:atol:rtol:seed:_:sourceLocation:_:)`` for a function of fresh input tensors.
@discardableResult
public func gradCheck(
    _ inputs: [Tensor], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 1e-2, seed: UInt64 = 7,
    _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation,
    _ f: ([Variable]) -> Variable
) -> GradCheckResult {
    let vars = inputs.map { Variable($0, requiresGrad: true) }
    return gradCheck(leaves: vars, eps: eps, atol: atol, rtol: rtol, seed: seed, what, sourceLocation: sourceLocation) { f(vars) }
}
