/// The dimensions of a row-major tensor.
///
/// A `Shape` is a thin value wrapper over `[Int]` with the arithmetic tensors need: element count,
/// row-major strides, and NumPy/PyTorch broadcasting.
public struct Shape: Hashable, Sendable, RandomAccessCollection, MutableCollection, ExpressibleByArrayLiteral,
    CustomStringConvertible
{
    public var dims: [Int]

    @inlinable
    public init(_ dims: [Int]) {
        precondition(dims.allSatisfy { $0 >= 0 }, "Shape dimensions must be non-negative, got \(dims)")
        self.dims = dims
    }

    @inlinable
    public init(arrayLiteral elements: Int...) { self.init(elements) }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { dims.count }
    @inlinable public var rank: Int { dims.count }

    @inlinable
    public subscript(position: Int) -> Int {
        get { dims[position] }
        set {
            precondition(newValue >= 0, "Shape dimensions must be non-negative, got \(newValue)")
            dims[position] = newValue
        }
    }

    /// The number of elements a tensor of this shape holds (1 for a scalar shape `[]`).
    @inlinable
    public var elementCount: Int {
        var n = 1
        for d in dims { n &*= d }
        return n
    }

    /// Row-major strides in elements.
    @inlinable
    public var strides: [Int] {
        var s = [Int](repeating: 1, count: dims.count)
        var acc = 1
        for i in stride(from: dims.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc &*= dims[i]
        }
        return s
    }

    /// Normalises a possibly negative axis (`-1` = last) and traps with the shape when it is out of range.
    @inlinable
    public func axis(_ axis: Int) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "axis \(axis) is out of range for shape \(self)")
        return a
    }

    /// The product of the dimensions before `axis`, the dimension itself, and the product after it.
    @inlinable
    public func split(at axis: Int) -> (outer: Int, size: Int, inner: Int) {
        var outer = 1
        var inner = 1
        for i in 0..<axis { outer &*= dims[i] }
        for i in (axis + 1)..<rank { inner &*= dims[i] }
        return (outer, dims[axis], inner)
    }

    /// Normalised, de-duplicated, ascending axes; every axis when `axes` is nil.
    public func normalizedAxes(_ axes: [Int]?) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        return Array(Set(axes.map { axis($0) })).sorted()
    }

    /// The shape after reducing `axes` (every axis when nil), keeping them as size 1 or dropping them.
    public func reduced(alongAxes axes: [Int]?, keepDims: Bool) -> Shape {
        let ax = normalizedAxes(axes)
        if keepDims {
            var d = dims
            for a in ax { d[a] = 1 }
            return Shape(d)
        }
        return Shape(dims.enumerated().filter { !ax.contains($0.offset) }.map(\.element))
    }

    /// The number of elements that reducing `axes` folds into each output element.
    public func reductionCount(alongAxes axes: [Int]?) -> Int {
        normalizedAxes(axes).reduce(1) { $0 * dims[$1] }
    }

    /// The broadcast of two shapes (NumPy rules), or `nil` when they are incompatible.
    public static func broadcast(_ a: Shape, _ b: Shape) -> Shape? {
        let r = Swift.max(a.rank, b.rank)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.rank ? 1 : a.dims[i - (r - a.rank)]
            let db = i < r - b.rank ? 1 : b.dims[i - (r - b.rank)]
            if da == db || db == 1 {
                out[i] = da
            } else if da == 1 {
                out[i] = db
            } else {
                return nil
            }
        }
        return Shape(out)
    }

    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }
}
