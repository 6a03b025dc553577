import TensorCore

// Pointwise functions. Each backward is a specialised elementwise kernel of the incoming gradient `g`,
// the input `x` and/or the saved output `y` (closure literals inlined into `Tensor.zip`, so they vectorise).

extension Variable {
    /// Records `y = f(x)` with backward `dx = g ⊙ f'`, where `f'` is given by the kernel from (g, x, y).
    @inlinable
    func unary(_ y: Tensor, _ backward: @escaping (_ g: Tensor, _ x: Tensor, _ y: Tensor) -> Tensor) -> Variable {
        guard Variable.recording(self) else { return Variable(y) }
        let x = value
        return Variable.record(y, inputs: [self]) { g in [backward(g, x, y)] }
    }

    public func exp() -> Variable { unary(value.exp()) { g, _, y in g * y } }
    public func log() -> Variable { unary(value.log()) { g, x, _ in g / x } }
    public func sqrt() -> Variable { unary(value.sqrt()) { g, _, y in Tensor.zip(g, y) { $0 * 0.5 / $1 } } }
    public func squared() -> Variable { unary(value.squared()) { g, x, _ in Tensor.zip(g, x) { 2 * $0 * $1 } } }
    public func tanh() -> Variable { unary(value.tanh()) { g, _, y in Tensor.zip(g, y) { $0 * (1 - $1 * $1) } } }
    public func sigmoid() -> Variable { unary(value.sigmoid()) { g, _, y in Tensor.zip(g, y) { $0 * $1 * (1 - $1) } } }
    /// ReLU; the derivative at 0 is 0, as in PyTorch.
    public func relu() -> Variable { unary(value.relu()) { g, x, _ in Tensor.zip(g, x) { $1 > 0 ? $0 : 0 } } }
    /// Softplus with PyTorch's threshold of 20 (identity above it).
    public func softplus() -> Variable {
        unary(value.softplus()) { g, x, _ in Tensor.zip(g, x) { $1 > 20 ? $0 : $0 * ScalarMath.fastSigmoid($1) } }
    }
    /// |x|; the derivative at 0 is 0, as in PyTorch.
    public func abs() -> Variable {
        unary(value.abs()) { g, x, _ in Tensor.zip(g, x) { $1 > 0 ? $0 : ($1 < 0 ? -$0 : 0) } }
    }

    public func pow(_ exponent: Float) -> Variable {
        unary(value.pow(exponent)) { g, x, _ in Tensor.zip(g, x) { $0 * exponent * ScalarMath.pow($1, exponent - 1) } }
    }

    /// Clamps into `[lo, hi]`; the gradient passes where the input is inside the closed interval.
    public func clamped(min lo: Float = -.infinity, max hi: Float = .infinity) -> Variable {
        unary(value.clamped(min: lo, max: hi)) { g, x, _ in Tensor.zip(g, x) { $1 >= lo && $1 <= hi ? $0 : 0 } }
    }

    /// Huber function of `self` with threshold `delta`: `0.5·x²` where `|x| < delta`, else
    /// `delta·(|x| − 0.5·delta)` (PyTorch's `huber_loss` applied to a difference).
    public func huber(delta: Float = 1) -> Variable {
        let y = value.map { x in
            let a = Swift.abs(x)
            return a < delta ? 0.5 * x * x : delta * (a - 0.5 * delta)
        }
        return unary(y) { g, x, _ in Tensor.zip(g, x) { $0 * Swift.min(Swift.max($1, -delta), delta) } }
    }
}
