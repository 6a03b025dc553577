#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: what was attempted, on which path (if any), and errno as it was right after the call.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public let operation: String
    public let path: String?
    public let errno: Int32

    public init(_ operation: String, path: String? = nil, errno: Int32) { (self.operation, self.path, self.errno) = (operation, path, errno) }

    /// The C library's text for the errno.
    public var reason: String { String(cString: strerror(errno)) }
    public var description: String { "\(path.map { "\($0): " } ?? "")\(operation) failed: \(reason) (errno \(errno))" }
}

/// The one checked funnel every POSIX call of AEFlow goes through (swift-nio's discipline): a negative result
/// reads errno at once, EINTR is retried, anything else becomes a ``SystemError`` naming the operation and path.
@inline(__always)
@discardableResult
public func systemCall<T: SignedInteger>(_ operation: @autoclosure () -> String, path: @autoclosure () -> String? = nil,
                                         _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let e = errno
        if e == EINTR { continue }
        throw SystemError(operation(), path: path(), errno: e)
    }
}
