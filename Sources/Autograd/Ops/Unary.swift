import TensorCore

// Pointwise functions. Each backward multiplies the incoming gradient by the local derivative, computed
// from the input `x` and/or the saved output `y`.

extension Variable {
    @inlinable
    func pointwise(_ y: Tensor, _ derivative: @escaping (_ x: Float, _ y: Float) -> Float) -> Variable {
        guard Variable.recording(self) else { return Variable(y) }
        let x = value
        return Variable.record(y, inputs: [self]) { g in
            let out = Tensor(uninitializedShape: g.shape)
            let pg = g.basePointer, px = x.basePointer, py = y.basePointer
            out.withUnsafeBufferPointer { o in
                let po = UnsafeMutablePointer(mutating: o.baseAddress!)
                for i in 0..<o.count { po[i] = pg[i] * derivative(px[i], py[i]) }
            }
            return [out]
        }
    }

    public func exp() -> Variable { pointwise(value.exp()) { _, y in y } }
    public func log() -> Variable { pointwise(value.log()) { x, _ in 1 / x } }
    public func sqrt() -> Variable { pointwise(value.sqrt()) { _, y in 0.5 / y } }
    public func squared() -> Variable { pointwise(value.squared()) { x, _ in 2 * x } }
    public func tanh() -> Variable { pointwise(value.tanh()) { _, y in 1 - y * y } }
    public func sigmoid() -> Variable { pointwise(value.sigmoid()) { _, y in y * (1 - y) } }
    /// ReLU; the derivative at 0 is 0, as in PyTorch.
    public func relu() -> Variable { pointwise(value.relu()) { x, _ in x > 0 ? 1 : 0 } }
    /// Softplus with PyTorch's threshold of 20 (identity above it).
    public func softplus() -> Variable { pointwise(value.softplus()) { x, _ in x > 20 ? 1 : ScalarMath.sigmoid(x) } }
    /// |x|; the derivative at 0 is 0, as in PyTorch.
    public func abs() -> Variable { pointwise(value.abs()) { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) } }

    public func pow(_ exponent: Float) -> Variable {
        pointwise(value.pow(exponent)) { x, _ in exponent * ScalarMath.pow(x, exponent - 1) }
    }

    /// Clamps into `[lo, hi]`; the gradient passes where the input is inside the closed interval.
    public func clamped(min lo: Float = -.infinity, max hi: Float = .infinity) -> Variable {
        pointwise(value.clamped(min: lo, max: hi)) { x, _ in x >= lo && x <= hi ? 1 : 0 }
    }

    /// Huber function of `self` with threshold `delta`: `0.5·x²` where `|x| < delta`, else
    /// `delta·(|x| − 0.5·delta)` (PyTorch's `huber_loss` applied to a difference).
    public func huber(delta: Float = 1) -> Variable {
        let y = value.map { x in
            let a = Swift.abs(x)
            return a < delta ? 0.5 * x * x : delta * (a - 0.5 * delta)
        }
        return pointwise(y) { x, _ in Swift.min(Swift.max(x, -delta), delta) }
    }
}
