import Autograd
import TensorCore

/// Updates parameters from their accumulated gradients (`torch.optim` semantics: parameters whose
/// gradient is nil are skipped; `weightDecay` is classic L2, added to the gradient before the update).
public protocol Optimizer: AnyObject {
    var parameters: [Variable] { get }
    var learningRate: Float { get set }
    /// Applies one update to every parameter that has a gradient.
    func step()
}

extension Optimizer {
    /// Clears every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() { for p in parameters { p.grad = nil } }
}

/// Per-parameter update over raw buffers: `body(param, grad, count, index)` for each parameter that has
/// a gradient (the parameter's storage made unique first).
@inline(__always)
func forEachParameterWithGradient(
    _ parameters: [Variable],
    _ body: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int, Int) -> Void
) {
    for (index, p) in parameters.enumerated() {
        guard let g = p.grad else { continue }
        precondition(g.shape == p.shape, "gradient \(g.shape) for parameter \(p.shape)")
        p.value.withUnsafeMutableBufferPointer { w in
            body(w.baseAddress!, g.basePointer, w.count, index)
        }
    }
}

extension Tensor {
    /// A pointer for in-place updates of optimizer state that this optimizer alone owns (made unique
    /// first, so the pointer stays valid while the state array is not reassigned).
    @inline(__always)
    mutating func mutablePointer() -> UnsafeMutablePointer<Float> {
        withUnsafeMutableBufferPointer { $0.baseAddress! }
    }
}
