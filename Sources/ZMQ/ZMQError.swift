import CZeroMQ

/// A failed libzmq call: the operation, its errno (read at once, before anything else can change it),
/// and libzmq's message.
public struct ZMQError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// EAGAIN: a non-blocking call would block.
        case wouldBlock
        /// ETERM: the context is shutting down; loops should end.
        case terminated
        case other
    }

    public let operation: String
    public let errno: Int32

    public var kind: Kind {
        switch errno {
        case EAGAIN: .wouldBlock
        case ZMQError.eterm: .terminated
        default: .other
        }
    }

    /// libzmq's ETERM (`ZMQ_HAUSNUMERO + 53`).
    static let eterm: Int32 = 156_384_712 + 53

    public var description: String { "\(operation): \(String(cString: zmq_strerror(errno))) (errno \(errno))" }
}

/// The one funnel every libzmq call goes through: EINTR is retried, the errno is captured immediately
/// after a failure, and failures become typed errors.
@inline(__always)
func zmqCall(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let rc = body()
        if rc >= 0 { return rc }
        let e = zmq_errno()
        if e == EINTR { continue }
        throw ZMQError(operation: operation(), errno: e)
    }
}

#if canImport(Glibc)
import Glibc
#endif
