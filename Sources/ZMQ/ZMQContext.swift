import CZeroMQ

/// A libzmq context (one per process is typical). Sockets keep it alive; ``shutdown()`` makes every
/// blocking call on its sockets fail with `.terminated`, which is how I/O threads are told to stop.
public final class ZMQContext: @unchecked Sendable {
    // @unchecked: libzmq contexts are thread-safe; the handle is immutable after init.
    let handle: UnsafeMutableRawPointer

    /// `flushOnTerminate`: when the context is released, wait for sockets closed with a linger period to
    /// deliver their queued messages (a daemon's outputs on shutdown). Otherwise termination never waits.
    public init(ioThreads: Int = 1, flushOnTerminate: Bool = false) throws(ZMQError) {
        guard let h = zmq_ctx_new() else { throw ZMQError(operation: "zmq_ctx_new", errno: zmq_errno()) }
        handle = h
        _ = try zmqCall("zmq_ctx_set(ZMQ_IO_THREADS)") { zmq_ctx_set(h, ZMQ_IO_THREADS, Int32(ioThreads)) }
        _ = try zmqCall("zmq_ctx_set(ZMQ_BLOCKY)") { zmq_ctx_set(h, ZMQ_BLOCKY, flushOnTerminate ? 1 : 0) }
    }

    /// Interrupts blocking operations on every socket of this context (they fail with ETERM).
    public func shutdown() { _ = zmq_ctx_shutdown(handle) }

    deinit {
        // All sockets hold a strong reference to the context, so none is open here.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}

#if canImport(Glibc)
import Glibc
#endif
