import SystemCalls

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

/// Whole-file reads and writes for the safetensors reader and writer, through System's checked funnel.
enum FileBytes {
    static func read(_ path: String, limit: Int) throws(SafeTensorsError) -> [UInt8] {
        do { return try Files.read(path, limit: limit) } catch {
            switch error {
            case .tooLarge(let size, let limit): throw SafeTensorsError(source: path, .fileTooLarge(size: size, limit: limit))
            case .system(let e): throw SafeTensorsError(source: path, .io(operation: e.operation, errno: e.errno))
            }
        }
    }

    static func write(_ bytes: [UInt8], to path: String) throws(SafeTensorsError) {
        do { try Files.write(bytes, to: path) } catch { throw SafeTensorsError(source: path, .io(operation: error.operation, errno: error.errno)) }
    }
}
