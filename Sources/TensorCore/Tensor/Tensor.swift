/// A dense, row-major `Float32` tensor with copy-on-write storage.
///
/// Every operation returns a new tensor (reshape shares storage); mutation through
/// ``withUnsafeMutableBufferPointer(_:)`` copies the storage first when it is shared.
/// Shape mismatches are programmer errors and trap with a message naming the shapes.
public struct Tensor: @unchecked Sendable {
    // Sendable: `storage` is only mutated when uniquely referenced (copy-on-write), as with Array.
    public let shape: Shape
    @usableFromInline internal var storage: TensorStorage

    /// A tensor whose elements are not yet initialised; the caller writes every element.
    @inlinable
    public init(uninitializedShape shape: Shape) {
        self.shape = shape
        self.storage = TensorStorage(uninitializedCount: shape.elementCount)
    }

    @inlinable
    public init(shape: Shape, storage: TensorStorage) {
        precondition(storage.count == shape.elementCount,
                     "storage of \(storage.count) elements cannot back shape \(shape)")
        self.shape = shape
        self.storage = storage
    }

    public init(shape: Shape, scalars: [Float]) {
        precondition(scalars.count == shape.elementCount,
                     "\(scalars.count) scalars cannot fill shape \(shape)")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { storage.pointer.update(from: base, count: src.count) }
        }
    }

    /// A rank-1 tensor of the given values.
    public init(_ scalars: [Float]) { self.init(shape: [scalars.count], scalars: scalars) }

    /// A rank-0 tensor.
    public init(scalar: Float) { self.init(shape: [], scalars: [scalar]) }

    public init(shape: Shape, repeating value: Float) {
        self.shape = shape
        self.storage = TensorStorage(repeating: value, count: shape.elementCount)
    }

    @inlinable public var rank: Int { shape.rank }
    @inlinable public var scalarCount: Int { storage.count }

    public var scalars: [Float] {
        [Float](UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// The single element of a one-element tensor.
    public var scalar: Float {
        precondition(scalarCount == 1, "scalar of a tensor with shape \(shape)")
        return storage.pointer[0]
    }

    /// Element access by full index (bounds-checked; meant for tests and small code paths).
    public subscript(indices: Int...) -> Float {
        get { storage.pointer[flatIndex(indices)] }
        set {
            let i = flatIndex(indices)
            makeUnique()
            storage.pointer[i] = newValue
        }
    }

    private func flatIndex(_ indices: [Int]) -> Int {
        precondition(indices.count == rank, "index \(indices) has the wrong rank for shape \(shape)")
        var flat = 0
        for (i, idx) in indices.enumerated() {
            precondition(idx >= 0 && idx < shape[i], "index \(indices) is out of range for shape \(shape)")
            flat = flat * shape[i] + idx
        }
        return flat
    }

    @inlinable
    public mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Read-only base pointer, valid while `self` is alive (kernel code only).
    @inlinable public var basePointer: UnsafePointer<Float> { UnsafePointer(storage.pointer) }
}

extension Tensor: Equatable {
    /// Exact equality of shape and every element.
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape else { return false }
        if lhs.storage === rhs.storage { return true }
        for i in 0..<lhs.scalarCount where lhs.storage.pointer[i] != rhs.storage.pointer[i] { return false }
        return true
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(16).map { String($0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(shown)\(scalarCount > 16 ? ", …" : "")]"
    }
}
