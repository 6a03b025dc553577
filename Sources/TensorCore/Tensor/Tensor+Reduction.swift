// Reductions over axes. A multi-axis reduction is a sequence of single-axis reductions, each over the
// (outer, size, inner) split of the shape so the inner loop runs over contiguous memory.

extension Tensor {
    /// Reduces one axis with `combine`, starting every output element at `initial`; keeps the axis (size 1).
    @inlinable @inline(__always)
    func reduceKeepingAxis(_ axis: Int, initial: Float, _ combine: (Float, Float) -> Float) -> Tensor {
        let (outer, n, inner) = shape.split(at: axis)
        var outShape = shape
        outShape[axis] = 1
        let out = Tensor(shape: outShape, repeating: initial)
        let src = storage.pointer, dst = out.storage.pointer
        if inner == 1 {
            for o in 0..<outer {
                var acc = initial
                let row = src + o * n
                for k in 0..<n { acc = combine(acc, row[k]) }
                dst[o] = acc
            }
        } else {
            for o in 0..<outer {
                let d = dst + o * inner
                for k in 0..<n {
                    let s = src + (o * n + k) * inner
                    for i in 0..<inner { d[i] = combine(d[i], s[i]) }
                }
            }
        }
        return out
    }

    @inlinable @inline(__always)
    func reduce(_ axes: [Int]?, keepDims: Bool, initial: Float, _ combine: (Float, Float) -> Float) -> Tensor {
        var t = self
        for a in shape.normalizedAxes(axes) { t = t.reduceKeepingAxis(a, initial: initial, combine) }
        return keepDims ? t : t.reshaped(shape.reduced(alongAxes: axes, keepDims: false))
    }

    /// Sum over `axes` (all axes when nil).
    public func sum(alongAxes axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        reduce(axes, keepDims: keepDims, initial: 0) { $0 + $1 }
    }

    /// Mean over `axes` (all axes when nil).
    public func mean(alongAxes axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let n = shape.reductionCount(alongAxes: axes)
        return sum(alongAxes: axes, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    public func max(alongAxes axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        reduce(axes, keepDims: keepDims, initial: -.infinity) { Swift.max($0, $1) }
    }

    public func min(alongAxes axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        reduce(axes, keepDims: keepDims, initial: .infinity) { Swift.min($0, $1) }
    }

    /// Variance over `axes`; `unbiased` divides by n − 1 (Bessel), otherwise by n.
    public func variance(alongAxes axes: [Int]? = nil, unbiased: Bool = false, keepDims: Bool = false) -> Tensor {
        let n = shape.reductionCount(alongAxes: axes)
        let centered = self - mean(alongAxes: axes, keepDims: true)
        let ss = centered.squared().sum(alongAxes: axes, keepDims: keepDims)
        return ss * (1 / Float(unbiased ? Swift.max(n - 1, 1) : n))
    }

    /// Sum of all elements as a Float.
    public var sumOfElements: Float {
        var acc: Float = 0
        let p = storage.pointer
        for i in 0..<scalarCount { acc += p[i] }
        return acc
    }
}
