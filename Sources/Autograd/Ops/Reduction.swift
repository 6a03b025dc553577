import TensorCore

extension Variable {
    /// Sum over `axes` (all when nil). The gradient is broadcast back over the reduced axes.
    public func sum(alongAxes axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
        let y = value.sum(alongAxes: axes, keepDims: keepDims)
        guard Variable.recording(self) else { return Variable(y) }
        let s = shape
        let keptShape = s.reduced(alongAxes: axes, keepDims: true)
        return Variable.record(y, inputs: [self]) { g in [g.reshaped(keptShape).broadcast(to: s)] }
    }

    /// Mean over `axes` (all when nil).
    public func mean(alongAxes axes: [Int]? = nil, keepDims: Bool = false) -> Variable {
        let n = shape.reductionCount(alongAxes: axes)
        return sum(alongAxes: axes, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    /// Variance over `axes` (biased unless `unbiased`), composed from mean, subtraction and squares.
    public func variance(alongAxes axes: [Int]? = nil, unbiased: Bool = false, keepDims: Bool = false) -> Variable {
        let centered = self - mean(alongAxes: axes, keepDims: true)
        let n = shape.reductionCount(alongAxes: axes)
        let ss = centered.squared().sum(alongAxes: axes, keepDims: keepDims)
        return ss * (1 / Float(unbiased ? Swift.max(n - 1, 1) : n))
    }
}
