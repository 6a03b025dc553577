#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Shape manipulation. Tensors are always contiguous: `reshaped` shares storage, everything else copies.

extension Tensor {
    /// The same elements viewed with a new shape; one dimension may be `-1` (inferred).
    public func reshaped(_ dims: [Int]) -> Tensor {
        var dims = dims
        if let inferred = dims.firstIndex(of: -1) {
            let known = dims.enumerated().reduce(1) { $1.offset == inferred ? $0 : $0 * $1.element }
            precondition(known > 0 && scalarCount % known == 0, "cannot reshape \(shape) to \(dims)")
            dims[inferred] = scalarCount / known
        }
        return reshaped(Shape(dims))
    }

    public func reshaped(_ newShape: Shape) -> Tensor {
        precondition(newShape.elementCount == scalarCount, "cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: newShape, storage: storage)
    }

    /// Dimensions reordered: output axis `i` is input axis `permutation[i]` (like `torch.permute`).
    public func permuted(_ permutation: [Int]) -> Tensor {
        precondition(permutation.count == rank && Set(permutation) == Set(0..<rank),
                     "\(permutation) is not a permutation of the axes of \(shape)")
        if permutation == Array(0..<rank) { return self }
        let outShape = Shape(permutation.map { shape[$0] })
        // Only axes of length 1 move: the scalars keep their order.
        let moved = permutation.filter { shape[$0] != 1 }
        if moved == moved.sorted() { return reshaped(outShape) }
        let inStrides = shape.strides
        let out = Tensor(uninitializedShape: outShape)
        if scalarCount == 0 { return out }
        let src = storage.pointer, dst = out.storage.pointer
        // Fast path: a batched 2-D transpose (swap of the last two axes).
        if rank >= 2 && permutation[..<(rank - 2)].elementsEqual(0..<(rank - 2))
            && permutation[rank - 2] == rank - 1 && permutation[rank - 1] == rank - 2
        {
            let rows = shape[rank - 2], cols = shape[rank - 1]
            let batch = scalarCount / Swift.max(rows * cols, 1)
            for b in 0..<batch {
                let s = src + b * rows * cols, d = dst + b * rows * cols
                for r in 0..<rows { for c in 0..<cols { d[c * rows + r] = s[r * cols + c] } }
            }
            return out
        }
        let strides = permutation.map { inStrides[$0] }
        let dims = outShape.dims
        let r = rank
        let innerN = dims[r - 1], innerS = strides[r - 1]
        let rows = scalarCount / innerN
        var index = [Int](repeating: 0, count: r)
        var off = 0
        for row in 0..<rows {
            let d = dst + row * innerN
            if innerS == 1 {
                d.update(from: src + off, count: innerN)   // innermost axis kept: whole rows
            } else {
                for j in 0..<innerN { d[j] = src[off + j * innerS] }
            }
            var k = r - 2
            while k >= 0 {
                index[k] += 1
                off += strides[k]
                if index[k] < dims[k] { break }
                off -= strides[k] * dims[k]
                index[k] = 0
                k -= 1
            }
        }
        return out
    }

    /// Swaps two axes.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var p = Array(0..<rank)
        p.swapAt(shape.axis(a), shape.axis(b))
        return permuted(p)
    }

    /// The elements `range` along `axis` (a copy).
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let ax = shape.axis(axis)
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[ax],
                     "slice \(range) is out of bounds for axis \(ax) of \(shape)")
        let (outer, n, inner) = shape.split(at: ax)
        var outShape = shape
        outShape[ax] = range.count
        let out = Tensor(uninitializedShape: outShape)
        let block = range.count * inner
        let src = storage.pointer, dst = out.storage.pointer
        for o in 0..<outer {
            (dst + o * block).update(from: src + (o * n + range.lowerBound) * inner, count: block)
        }
        return out
    }

    /// Tensors joined along an existing axis; every other dimension must agree.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat of no tensors")
        let first = tensors[0].shape
        let ax = first.axis(axis)
        var total = 0
        for t in tensors {
            precondition(t.rank == first.rank && (0..<first.rank).allSatisfy { $0 == ax || t.shape[$0] == first[$0] },
                         "cannot concatenate \(t.shape) with \(first) along axis \(ax)")
            total += t.shape[ax]
        }
        var outShape = first
        outShape[ax] = total
        let out = Tensor(uninitializedShape: outShape)
        let (outer, _, inner) = outShape.split(at: ax)
        let dst = out.storage.pointer
        var offset = 0
        for t in tensors {
            let block = t.shape[ax] * inner
            let src = t.storage.pointer
            for o in 0..<outer {
                (dst + o * total * inner + offset).update(from: src + o * block, count: block)
            }
            offset += block
        }
        return out
    }

    /// Tensors of one shape joined along a new axis.
    public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stack of no tensors")
        let s = tensors[0].shape
        let ax = axis < 0 ? axis + s.rank + 1 : axis
        precondition(ax >= 0 && ax <= s.rank, "stack axis \(axis) out of range for \(s)")
        var dims = s.dims
        dims.insert(1, at: ax)
        return concat(tensors.map {
            precondition($0.shape == s, "cannot stack \($0.shape) with \(s)")
            return $0.reshaped(Shape(dims))
        }, axis: ax)
    }

    /// `before`/`after` elements of `value` added on both sides of `axis`.
    public func padded(axis: Int, before: Int, after: Int, value: Float = 0) -> Tensor {
        precondition(before >= 0 && after >= 0, "negative padding \(before), \(after)")
        let ax = shape.axis(axis)
        let (outer, n, inner) = shape.split(at: ax)
        var outShape = shape
        outShape[ax] = n + before + after
        let out = Tensor(shape: outShape, repeating: value)
        let src = storage.pointer, dst = out.storage.pointer
        let m = n + before + after
        for o in 0..<outer {
            (dst + (o * m + before) * inner).update(from: src + o * n * inner, count: n * inner)
        }
        return out
    }

    /// Inverse of ``padded(axis:before:after:value:)``: drops `before`/`after` elements of `axis`.
    public func cropped(axis: Int, before: Int, after: Int) -> Tensor {
        let ax = shape.axis(axis)
        return slice(axis: ax, before..<(shape[ax] - after))
    }

    /// The tensor broadcast (materialised) to `target`, which must be broadcast-compatible.
    public func broadcast(to target: Shape) -> Tensor {
        if shape == target { return self }
        precondition(Shape.broadcast(shape, target) == target, "cannot broadcast \(shape) to \(target)")
        if scalarCount == 1 { return Tensor(shape: target, repeating: storage.pointer[0]) }
        let out = Tensor(uninitializedShape: target)
        let plan = BroadcastPlan(target, shape, shape)
        let src = storage.pointer, dst = out.storage.pointer
        let n = plan.innerCount, step = plan.innerStrideA
        plan.forEachRow { row, offset, _ in
            let o = dst + row * n
            if step == 1 {
                o.update(from: src + offset, count: n)
            } else {
                o.update(repeating: src[offset], count: n)
            }
        }
        return out
    }

    /// Sums a broadcast result back to `target` (the gradient of broadcasting to `shape`).
    public func unbroadcast(to target: Shape) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.rank
        precondition(lead >= 0, "cannot un-broadcast \(shape) to \(target)")
        var axes = Array(0..<lead)
        for i in 0..<target.rank where target[i] == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        return sum(alongAxes: axes, keepDims: true).reshaped(target)
    }
}
