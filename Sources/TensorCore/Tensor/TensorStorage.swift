/// The heap buffer behind a ``Tensor``. Its contents are only written while a single tensor refers to it
/// (copy-on-write), so sharing one between threads through tensor copies is safe.
public final class TensorStorage: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// Allocates `count` uninitialised floats (64-byte aligned so kernels vectorise on aligned loads), large
    /// ones from ``BufferPool/shared``.
    @inlinable
    public init(uninitializedCount count: Int) {
        precondition(count >= 0, "negative storage size \(count)")
        self.count = count
        let raw = BufferPool.shared.allocate(bytes: Swift.max(count, 1) * MemoryLayout<Float>.stride)
        self.pointer = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
    }

    @inlinable
    public convenience init(repeating value: Float, count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    @inlinable
    public func copy() -> TensorStorage {
        let s = TensorStorage(uninitializedCount: count)
        s.pointer.update(from: pointer, count: count)
        return s
    }

    deinit {
        BufferPool.shared.release(UnsafeMutableRawPointer(pointer), bytes: Swift.max(count, 1) * MemoryLayout<Float>.stride)
    }
}
