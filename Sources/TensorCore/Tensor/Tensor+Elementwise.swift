// Elementwise kernels. Binary operations broadcast with NumPy/PyTorch rules; the common layouts (same
// shape, scalar operand, trailing-dimension broadcast) run as flat loops the optimiser vectorises.

extension Tensor {
    /// Applies `op` to every element.
    @inlinable @inline(__always)
    public func map(_ op: (Float) -> Float) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let src = storage.pointer, dst = out.storage.pointer
        for i in 0..<scalarCount { dst[i] = op(src[i]) }
        return out
    }

    /// Applies `op` pairwise after broadcasting the operands to a common shape.
    @inlinable @inline(__always)
    public static func zip(_ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
        if a.shape == b.shape {
            let out = Tensor(uninitializedShape: a.shape)
            let pa = a.storage.pointer, pb = b.storage.pointer, po = out.storage.pointer
            for i in 0..<a.scalarCount { po[i] = op(pa[i], pb[i]) }
            return out
        }
        if b.scalarCount == 1 && b.rank <= a.rank {
            let s = b.storage.pointer[0]
            let out = Tensor(uninitializedShape: a.shape)
            let pa = a.storage.pointer, po = out.storage.pointer
            for i in 0..<a.scalarCount { po[i] = op(pa[i], s) }
            return out
        }
        if a.scalarCount == 1 && a.rank <= b.rank {
            let s = a.storage.pointer[0]
            let out = Tensor(uninitializedShape: b.shape)
            let pb = b.storage.pointer, po = out.storage.pointer
            for i in 0..<b.scalarCount { po[i] = op(s, pb[i]) }
            return out
        }
        // One operand equal to the other's trailing dimensions (a bias, a per-channel vector): flat loops.
        if b.rank < a.rank && a.shape.dims.suffix(b.rank).elementsEqual(b.shape.dims) && b.scalarCount > 0 {
            let out = Tensor(uninitializedShape: a.shape)
            let pa = a.storage.pointer, pb = b.storage.pointer, po = out.storage.pointer
            let inner = b.scalarCount
            for o in 0..<(a.scalarCount / inner) {
                let x = pa + o * inner, y = po + o * inner
                for j in 0..<inner { y[j] = op(x[j], pb[j]) }
            }
            return out
        }
        if a.rank < b.rank && b.shape.dims.suffix(a.rank).elementsEqual(a.shape.dims) && a.scalarCount > 0 {
            let out = Tensor(uninitializedShape: b.shape)
            let pa = a.storage.pointer, pb = b.storage.pointer, po = out.storage.pointer
            let inner = a.scalarCount
            for o in 0..<(b.scalarCount / inner) {
                let x = pb + o * inner, y = po + o * inner
                for j in 0..<inner { y[j] = op(pa[j], x[j]) }
            }
            return out
        }
        guard let outShape = Shape.broadcast(a.shape, b.shape) else {
            preconditionFailure("shapes \(a.shape) and \(b.shape) cannot be broadcast together")
        }
        let out = Tensor(uninitializedShape: outShape)
        let plan = BroadcastPlan(outShape, a.shape, b.shape)
        let pa = a.storage.pointer, pb = b.storage.pointer, po = out.storage.pointer
        let n = plan.innerCount
        let sa = plan.innerStrideA, sb = plan.innerStrideB
        plan.forEachRow { row, offA, offB in
            let o = po + row * n, x = pa + offA, y = pb + offB
            if sa == 1 && sb == 1 {
                for j in 0..<n { o[j] = op(x[j], y[j]) }
            } else if sa == 1 {
                let v = y[0]
                for j in 0..<n { o[j] = op(x[j], v) }
            } else if sb == 1 {
                let v = x[0]
                for j in 0..<n { o[j] = op(v, y[j]) }
            } else {
                for j in 0..<n { o[j] = op(x[j * sa], y[j * sb]) }
            }
        }
        return out
    }

    /// Applies `op` to corresponding elements of three equally shaped tensors.
    @inlinable @inline(__always)
    public static func zip(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ op: (Float, Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape && b.shape == c.shape, "zip of \(a.shape), \(b.shape) and \(c.shape)")
        let out = Tensor(uninitializedShape: a.shape)
        let pa = a.storage.pointer, pb = b.storage.pointer, pc = c.storage.pointer, po = out.storage.pointer
        for i in 0..<a.scalarCount { po[i] = op(pa[i], pb[i], pc[i]) }
        return out
    }

    /// Adds `other` (same shape) into this tensor in place, copying first only if storage is shared.
    @inlinable
    public mutating func addInPlace(_ other: Tensor) {
        precondition(shape == other.shape, "addInPlace of \(other.shape) into \(shape)")
        makeUnique()
        let p = storage.pointer, q = other.storage.pointer
        for i in 0..<scalarCount { p[i] += q[i] }
    }

    /// `self += alpha * other` in place (same shape).
    @inlinable
    public mutating func addInPlace(_ other: Tensor, scaledBy alpha: Float) {
        precondition(shape == other.shape, "addInPlace of \(other.shape) into \(shape)")
        makeUnique()
        let p = storage.pointer, q = other.storage.pointer
        for i in 0..<scalarCount { p[i] += alpha * q[i] }
    }

    @inlinable public static func + (a: Tensor, b: Tensor) -> Tensor { zip(a, b) { $0 + $1 } }
    @inlinable public static func - (a: Tensor, b: Tensor) -> Tensor { zip(a, b) { $0 - $1 } }
    @inlinable public static func * (a: Tensor, b: Tensor) -> Tensor { zip(a, b) { $0 * $1 } }
    @inlinable public static func / (a: Tensor, b: Tensor) -> Tensor { zip(a, b) { $0 / $1 } }
    @inlinable public static func + (a: Tensor, s: Float) -> Tensor { a.map { $0 + s } }
    @inlinable public static func - (a: Tensor, s: Float) -> Tensor { a.map { $0 - s } }
    @inlinable public static func * (a: Tensor, s: Float) -> Tensor { a.map { $0 * s } }
    @inlinable public static func / (a: Tensor, s: Float) -> Tensor { a.map { $0 / s } }
    @inlinable public static func + (s: Float, a: Tensor) -> Tensor { a.map { s + $0 } }
    @inlinable public static func - (s: Float, a: Tensor) -> Tensor { a.map { s - $0 } }
    @inlinable public static func * (s: Float, a: Tensor) -> Tensor { a.map { s * $0 } }
    @inlinable public static func / (s: Float, a: Tensor) -> Tensor { a.map { s / $0 } }
    @inlinable public static prefix func - (a: Tensor) -> Tensor { a.map { -$0 } }

    @inlinable public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { zip(a, b) { Swift.max($0, $1) } }
    @inlinable public static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { zip(a, b) { Swift.min($0, $1) } }

    public func exp() -> Tensor { map { ScalarMath.fastExp($0) } }
    public func log() -> Tensor { map { ScalarMath.log($0) } }
    public func sqrt() -> Tensor { map { $0.squareRoot() } }
    public func abs() -> Tensor { map { Swift.abs($0) } }
    public func squared() -> Tensor { map { $0 * $0 } }
    public func tanh() -> Tensor { map { ScalarMath.fastTanh($0) } }
    public func sigmoid() -> Tensor { map { ScalarMath.fastSigmoid($0) } }
    public func relu() -> Tensor { map { $0 > 0 ? $0 : 0 } }
    public func softplus() -> Tensor { map { ScalarMath.softplus($0) } }
    public func pow(_ exponent: Float) -> Tensor { map { ScalarMath.pow($0, exponent) } }
    public func clamped(min lo: Float = -.infinity, max hi: Float = .infinity) -> Tensor {
        map { Swift.min(Swift.max($0, lo), hi) }
    }

    /// Whether every element is finite (no NaN or ±inf).
    public var isFinite: Bool {
        let p = storage.pointer
        for i in 0..<scalarCount where !p[i].isFinite { return false }
        return true
    }
}

/// Row iteration for a broadcast binary operation: the output is walked one innermost row at a time and
/// the operands' offsets follow their (zero for broadcast dimensions) strides.
@usableFromInline
struct BroadcastPlan {
    @usableFromInline let outDims: [Int]
    @usableFromInline let stridesA: [Int]
    @usableFromInline let stridesB: [Int]
    @usableFromInline let innerCount: Int
    @usableFromInline let innerStrideA: Int
    @usableFromInline let innerStrideB: Int

    @usableFromInline
    init(_ out: Shape, _ a: Shape, _ b: Shape) {
        outDims = out.dims
        stridesA = BroadcastPlan.alignedStrides(a, rank: out.rank)
        stridesB = BroadcastPlan.alignedStrides(b, rank: out.rank)
        innerCount = out.rank == 0 ? 1 : out.dims[out.rank - 1]
        innerStrideA = out.rank == 0 ? 0 : stridesA[out.rank - 1]
        innerStrideB = out.rank == 0 ? 0 : stridesB[out.rank - 1]
    }

    /// Strides of `s` right-aligned to `rank`, zero where `s` has (or lacks) a broadcast dimension.
    @usableFromInline
    static func alignedStrides(_ s: Shape, rank: Int) -> [Int] {
        var out = [Int](repeating: 0, count: rank)
        let st = s.strides
        for i in 0..<s.rank where s.dims[i] != 1 { out[rank - s.rank + i] = st[i] }
        return out
    }

    /// Calls `body(row, offsetA, offsetB)` for every innermost row of the output. Inlinable, so the
    /// elementwise operation inside `body` is inlined into its loops rather than called per element.
    @inlinable @inline(__always)
    func forEachRow(_ body: (Int, Int, Int) -> Void) {
        let outer = outDims.count <= 1 ? 1 : outDims.dropLast().reduce(1, *)
        if outer == 0 || innerCount == 0 { return }
        let r = outDims.count - 1
        var index = [Int](repeating: 0, count: Swift.max(r, 0))
        var offA = 0, offB = 0
        for row in 0..<outer {
            body(row, offA, offB)
            // Odometer increment over the outer dimensions.
            var d = r - 1
            while d >= 0 {
                index[d] += 1
                offA += stridesA[d]
                offB += stridesB[d]
                if index[d] < outDims[d] { break }
                offA -= stridesA[d] * outDims[d]
                offB -= stridesB[d] * outDims[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}
