import Testing
@testable import TensorCore

/// The large-buffer pool, on private pools (the shared one is in use by every other test).
@Suite struct BufferPoolTests {
    @Test func aReleasedBufferIsReusedForTheSameRoundedSize() {
        let pool = BufferPool(limitBytes: 1 << 20)
        let a = pool.allocate(bytes: 100_000)
        pool.release(a, bytes: 100_000)
        #expect(pool.cachedBytes == 102_400)   // whole pages
        // Another request rounding to the same pages gets it back; a different size does not.
        let b = pool.allocate(bytes: 100_001)
        #expect(b == a)
        #expect(pool.cachedBytes == 0)
        let c = pool.allocate(bytes: 100_000)
        #expect(c != a)
        #expect(Int(bitPattern: c) % 64 == 0 && Int(bitPattern: b) % 64 == 0)
        pool.release(b, bytes: 100_001)
        pool.release(c, bytes: 100_000)
        #expect(pool.cachedBytes == 2 * 102_400)
    }

    @Test func smallBuffersAreNeverKept() {
        let pool = BufferPool(limitBytes: 1 << 20)
        let p = pool.allocate(bytes: BufferPool.minimumBytes - 4)
        pool.release(p, bytes: BufferPool.minimumBytes - 4)
        #expect(pool.cachedBytes == 0)
    }

    @Test func theLimitDropsTheOldestFirst() {
        let size = 64 << 10
        let pool = BufferPool(limitBytes: 3 * size)
        let buffers = (0..<4).map { _ in pool.allocate(bytes: size) }
        for p in buffers { pool.release(p, bytes: size) }
        #expect(pool.cachedBytes == 3 * size)
        // The newest three remain, handed out newest first; the oldest was freed.
        let again = (0..<3).map { _ in pool.allocate(bytes: size) }
        #expect(again == [buffers[3], buffers[2], buffers[1]])
        for p in again { pool.release(p, bytes: size) }
        // A buffer larger than the whole limit is never kept; lowering the limit frees the excess now.
        let big = pool.allocate(bytes: 4 * size)
        pool.release(big, bytes: 4 * size)
        #expect(pool.cachedBytes == 3 * size)
        pool.limitBytes = size
        #expect(pool.cachedBytes == size)
        pool.limitBytes = 0
        #expect(pool.cachedBytes == 0)
    }
}
