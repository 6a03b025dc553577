#if canImport(Glibc)
import Glibc
#endif

/// Durable, atomic file replacement: write `tmp-*` in the target's directory, fsync it, rename over the
/// target, fsync the directory. A reader sees the old file or the complete new one, never a partial one.
public enum AtomicFile {
    public struct WriteError: Error, Equatable, CustomStringConvertible {
        public let path: String
        public let operation: String
        public let errno: Int32
        public var description: String { "\(path): \(operation) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
    }

    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(WriteError) {
        let dir = directory(of: path)
        var template = Array("\(dir)/tmp-\(basename(of: path))-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw WriteError(path: path, operation: "create temporary file", errno: errno) }
        let tmp = String(cString: template)
        var ok = false
        defer { if !ok { unlink(tmp) } }
        do {
            defer { close(fd) }
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw WriteError(path: tmp, operation: "write", errno: errno)
                }
                done += n
                if FaultInjection.isArmed("checkpoint-write"), path.hasSuffix(".safetensors"), done >= bytes.count / 2 {
                    fsync(fd)
                    FaultInjection.stall("checkpoint-write", tmp)
                }
            }
            guard fchmod(fd, mode) == 0 else { throw WriteError(path: tmp, operation: "chmod", errno: errno) }
            guard fsync(fd) == 0 else { throw WriteError(path: tmp, operation: "fsync", errno: errno) }
        }
        guard rename(tmp, path) == 0 else { throw WriteError(path: path, operation: "rename", errno: errno) }
        ok = true
        try syncDirectory(dir)
    }

    public static func syncDirectory(_ dir: String) throws(WriteError) {
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw WriteError(path: dir, operation: "open directory", errno: errno) }
        defer { close(dfd) }
        guard fsync(dfd) == 0 else { throw WriteError(path: dir, operation: "fsync directory", errno: errno) }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func basename(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
