import TensorCore

extension Tensor {
    /// Numerically stable softmax along `axis` (max subtracted before exponentiating).
    public func softmax(axis: Int) -> Tensor {
        let ax = shape.axis(axis)
        let (outer, n, inner) = shape.split(at: ax)
        var y = Tensor(uninitializedShape: shape)
        let src = basePointer
        y.withUnsafeMutableBufferPointer { out in
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * n * inner + i
                    var m = -Float.infinity
                    for k in 0..<n { m = Swift.max(m, src[base + k * inner]) }
                    var total: Float = 0
                    for k in 0..<n {
                        let e = ScalarMath.fastExp(src[base + k * inner] - m)
                        out[base + k * inner] = e
                        total += e
                    }
                    let inv = 1 / total
                    for k in 0..<n { out[base + k * inner] *= inv }
                }
            }
        }
        return y
    }

    /// `log(softmax(x))` along `axis`, computed as `x − max − log Σ exp(x − max)`.
    public func logSoftmax(axis: Int) -> Tensor {
        let ax = shape.axis(axis)
        let (outer, n, inner) = shape.split(at: ax)
        var y = Tensor(uninitializedShape: shape)
        let src = basePointer
        y.withUnsafeMutableBufferPointer { out in
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * n * inner + i
                    var m = -Float.infinity
                    for k in 0..<n { m = Swift.max(m, src[base + k * inner]) }
                    var total: Float = 0
                    for k in 0..<n { total += ScalarMath.fastExp(src[base + k * inner] - m) }
                    let lse = m + ScalarMath.log(total)
                    for k in 0..<n { out[base + k * inner] = src[base + k * inner] - lse }
                }
            }
        }
        return y
    }
}

extension Variable {
    /// Softmax along `axis`; backward `dx = y ⊙ (g − Σ g⊙y)`.
    public func softmax(axis: Int) -> Variable {
        let y = value.softmax(axis: axis)
        guard Variable.recording(self) else { return Variable(y) }
        let ax = shape.axis(axis)
        return Variable.record(y, inputs: [self]) { g in
            let dot = (g * y).sum(alongAxes: [ax], keepDims: true)
            return [y * (g - dot)]
        }
    }

    /// Log-softmax along `axis`; backward `dx = g − softmax ⊙ Σ g`.
    public func logSoftmax(axis: Int) -> Variable {
        let y = value.logSoftmax(axis: axis)
        guard Variable.recording(self) else { return Variable(y) }
        let ax = shape.axis(axis)
        return Variable.record(y, inputs: [self]) { g in
            [g - y.exp() * g.sum(alongAxes: [ax], keepDims: true)]
        }
    }
}
