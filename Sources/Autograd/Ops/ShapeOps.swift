import TensorCore

extension Variable {
    public func reshaped(_ dims: [Int]) -> Variable {
        let y = value.reshaped(dims)
        guard Variable.recording(self) else { return Variable(y) }
        let s = shape
        return Variable.record(y, inputs: [self]) { g in [g.reshaped(s)] }
    }

    public func reshaped(_ newShape: Shape) -> Variable { reshaped(newShape.dims) }

    /// Output axis `i` is input axis `permutation[i]`; the gradient applies the inverse permutation.
    public func permuted(_ permutation: [Int]) -> Variable {
        let y = value.permuted(permutation)
        guard Variable.recording(self) else { return Variable(y) }
        var inverse = [Int](repeating: 0, count: permutation.count)
        for (i, p) in permutation.enumerated() { inverse[p] = i }
        return Variable.record(y, inputs: [self]) { g in [g.permuted(inverse)] }
    }

    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Variable {
        var p = Array(0..<rank)
        p.swapAt(shape.axis(a), shape.axis(b))
        return permuted(p)
    }

    /// `range` along `axis`; the gradient is zero-padded back to the input's extent.
    public func slice(axis: Int, _ range: Range<Int>) -> Variable {
        let y = value.slice(axis: axis, range)
        guard Variable.recording(self) else { return Variable(y) }
        let ax = shape.axis(axis), n = shape[ax]
        return Variable.record(y, inputs: [self]) { g in
            [g.padded(axis: ax, before: range.lowerBound, after: n - range.upperBound)]
        }
    }

    /// Joins along an existing axis; each input receives its slice of the gradient.
    public static func concat(_ parts: [Variable], axis: Int) -> Variable {
        let y = Tensor.concat(parts.map(\.value), axis: axis)
        guard GradMode.isEnabled, parts.contains(where: \.requiresGrad) else { return Variable(y) }
        let ax = y.shape.axis(axis)
        var ranges: [Range<Int>] = []
        var start = 0
        for p in parts {
            ranges.append(start..<(start + p.shape[ax]))
            start += p.shape[ax]
        }
        let needs = parts.map(\.requiresGrad)
        return record(y, inputs: parts) { g in
            (0..<ranges.count).map { needs[$0] ? g.slice(axis: ax, ranges[$0]) : nil }
        }
    }

    /// Joins equally shaped variables along a new axis.
    public static func stack(_ parts: [Variable], axis: Int = 0) -> Variable {
        precondition(!parts.isEmpty, "stack of no variables")
        let s = parts[0].shape
        let ax = axis < 0 ? axis + s.rank + 1 : axis
        var dims = s.dims
        dims.insert(1, at: ax)
        return concat(parts.map { $0.reshaped(dims) }, axis: ax)
    }

    /// Constant padding along `axis`; the gradient crops it off.
    public func padded(axis: Int, before: Int, after: Int, value fill: Float = 0) -> Variable {
        let y = value.padded(axis: axis, before: before, after: after, value: fill)
        guard Variable.recording(self) else { return Variable(y) }
        let ax = shape.axis(axis)
        return Variable.record(y, inputs: [self]) { g in [g.cropped(axis: ax, before: before, after: after)] }
    }

    /// The variable broadcast (materialised) to `target`; the gradient sums over the broadcast axes.
    public func broadcast(to target: Shape) -> Variable {
        let y = value.broadcast(to: target)
        guard Variable.recording(self) else { return Variable(y) }
        let s = shape
        return Variable.record(y, inputs: [self]) { g in [g.unbroadcast(to: s)] }
    }

    /// Flattens axes `start...end` into one (PyTorch's `flatten(start_dim, end_dim)`).
    public func flattened(from start: Int = 1, through end: Int = -1) -> Variable {
        let s = shape.axis(start), e = shape.axis(end)
        precondition(s <= e, "flatten from axis \(start) through \(end) of \(shape)")
        var dims = Array(shape.dims[..<s])
        dims.append(shape.dims[s...e].reduce(1, *))
        dims += shape.dims[(e + 1)...]
        return reshaped(dims)
    }
}
