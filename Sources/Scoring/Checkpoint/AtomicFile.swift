import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// Durable, atomic file replacement (System's ``AtomicWrite``: `tmp-*` in the target's directory, fsync, rename,
/// directory fsync), with the checkpoint writer's fault-injection point and this module's error type.
public enum AtomicFile {
    public struct WriteError: Error, Equatable, CustomStringConvertible {
        public let path: String
        public let operation: String
        public let errno: Int32
        public var description: String { SystemError(operation, path: path, errno: errno).description }
    }

    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(WriteError) {
        let midway: ((String) -> Void)? = FaultInjection.isArmed("checkpoint-write") && path.hasSuffix(".safetensors")
            ? { tmp in FaultInjection.stall("checkpoint-write", tmp) } : nil
        do { try AtomicWrite.write(bytes, to: path, mode: mode, midway: midway) } catch {
            throw WriteError(path: error.path ?? path, operation: error.operation, errno: error.errno)
        }
    }
}
