#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SafeTensorsFile {
    /// Files larger than this are refused before reading.
    public static let maximumFileSize = 4 << 30

    /// Reads and validates the file at `path`; every failure is a ``SafeTensorsError`` naming the path.
    public static func read(contentsOf path: String) throws(SafeTensorsError) -> SafeTensorsFile {
        let bytes = try FileBytes.read(path, limit: maximumFileSize)
        return try decode(bytes, source: path)
    }

    /// The raw bytes of a file (at most `limit` bytes, errno reported), for callers that validate more than the container.
    public static func readBytes(contentsOf path: String, limit: Int = maximumFileSize) throws(SafeTensorsError) -> [UInt8] {
        try FileBytes.read(path, limit: limit)
    }

    /// Writes the encoded document to `path` (plain write; durable, atomic replacement is the caller's job).
    public func write(to path: String) throws(SafeTensorsError) {
        try FileBytes.write(encoded(), to: path)
    }
}

/// Whole-file reads and writes with errno reported, used by the safetensors reader and writer.
enum FileBytes {
    static func read(_ path: String, limit: Int) throws(SafeTensorsError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SafeTensorsError(source: path, .io(operation: "open", errno: errno)) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafeTensorsError(source: path, .io(operation: "fstat", errno: errno)) }
        let size = Int(st.st_size)
        guard size <= limit else { throw SafeTensorsError(source: path, .fileTooLarge(size: size, limit: limit)) }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SafeTensorsError(source: path, .io(operation: "read", errno: errno))
            }
            if n == 0 { break }  // file shrank while reading; validation will report the truncation
            done += n
        }
        return done == size ? bytes : Array(bytes[0..<done])
    }

    static func write(_ bytes: [UInt8], to path: String) throws(SafeTensorsError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SafeTensorsError(source: path, .io(operation: "open", errno: errno)) }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SafeTensorsError(source: path, .io(operation: "write", errno: errno))
            }
            done += n
        }
    }
}
