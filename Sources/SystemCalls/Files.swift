#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads and writes, directories and durability, every call through ``systemCall(_:path:_:)``.
public enum Files {
    /// Writes all of `bytes` to `fd` (short writes continued, EINTR retried); a closed pipe stops quietly when
    /// `ignoringClosedPipe` (writing logs to a reader that went away).
    public static func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32, path: String? = nil, ignoringClosedPipe: Bool = false) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            do {
                done += try systemCall("write", path: path) { Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done) }
            } catch {
                if ignoringClosedPipe && error.errno == EPIPE { return }
                throw error
            }
        }
    }

    public static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String? = nil, ignoringClosedPipe: Bool = false) throws(SystemError) {
        try bytes.withUnsafeBytes { b in
            Result { () throws(SystemError) in try writeAll(b, to: fd, path: path, ignoringClosedPipe: ignoringClosedPipe) }
        }.get()
    }

    /// Writes text to standard error (unbuffered, no shared C `FILE`), ignoring a closed pipe.
    public static func writeStandardError(_ s: String) { try? writeAll(Array(s.utf8), to: STDERR_FILENO, ignoringClosedPipe: true) }
    public static func writeStandardOutput(_ s: String) { try? writeAll(Array(s.utf8), to: STDOUT_FILENO, ignoringClosedPipe: true) }

    /// Why a whole-file read failed.
    public enum ReadError: Error, Equatable, Sendable {
        case system(SystemError)
        /// Refused before reading: the file has `size` bytes, more than `limit`.
        case tooLarge(size: Int, limit: Int)
    }

    /// The whole file at `path`, refused before reading when larger than `limit` bytes.
    public static func read(_ path: String, limit: Int) throws(ReadError) -> [UInt8] {
        do { return try readChecked(path, limit: limit) } catch let e as ReadError { throw e } catch { throw .system(error as! SystemError) }
    }

    private static func readChecked(_ path: String, limit: Int) throws -> [UInt8] {
        let fd = try systemCall("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var st = stat()
        try systemCall("fstat", path: path) { fstat(fd, &st) }
        let size = Int(st.st_size)
        guard size <= limit else { throw ReadError.tooLarge(size: size, limit: limit) }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = try bytes.withUnsafeMutableBytes { b in
                Result { () throws(SystemError) -> Int in try systemCall("read", path: path) { Glibc.read(fd, b.baseAddress! + done, size - done) } }
            }.get()
            if n == 0 { break }   // the file shrank while reading; validation reports the truncation
            done += n
        }
        return done == size ? bytes : Array(bytes[0..<done])
    }

    /// A small text file (at most `limit` bytes), nil when it cannot be read.
    public static func readSmallText(_ path: String, limit: Int = 4096) -> String? {
        guard let bytes = try? read(path, limit: limit) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes (creating or truncating) a plain file; durable atomic replacement is ``AtomicWrite``'s job.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(SystemError) {
        let fd = try systemCall("open", path: path) { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        defer { close(fd) }
        try writeAll(bytes, to: fd, path: path)
    }

    /// Creates `path` afresh (replacing any file there) with its final `mode` from the start, writes and fsyncs
    /// it: a secret is never readable by others, not even for an instant.
    public static func create(_ bytes: [UInt8], at path: String, mode: mode_t) throws(SystemError) {
        unlink(path)
        let fd = try systemCall("create", path: path) { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) }
        defer { close(fd) }
        try writeAll(bytes, to: fd, path: path)
        try sync(fd, path: path)
    }

    /// Entry names of a directory (without `.` and `..`); empty when it cannot be read.
    public static func list(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The file's modification time (seconds since the epoch), nil when it cannot be read.
    public static func modificationTime(_ path: String) -> Double? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) * 1e-9
    }

    public static func isDirectory(_ path: String) -> Bool {
        var s = stat()
        return stat(path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether `path` can be read by this process (nil), or why not.
    public static func readability(_ path: String) -> SystemError? {
        access(path, R_OK) == 0 ? nil : SystemError("access", path: path, errno: errno)
    }

    /// Creates `path` and its missing parents.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST { throw SystemError("mkdir", path: current, errno: errno) }
        }
    }

    /// Creates the directory holding `path` (quietly: the write that follows reports any problem).
    public static func makeParentDirectory(_ path: String) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        try? makeDirectories(String(path[..<slash]))
    }

    public static func remove(_ path: String) { unlink(path) }

    public static func rename(_ from: String, _ to: String) throws(SystemError) {
        try systemCall("rename to \(to)", path: from) { Glibc.rename(from, to) }
    }

    /// fsync of a file descriptor, and of a directory by path (so a rename in it is durable).
    public static func sync(_ fd: Int32, path: String? = nil) throws(SystemError) { try systemCall("fsync", path: path) { fsync(fd) } }

    public static func syncDirectory(_ dir: String) throws(SystemError) {
        let fd = try systemCall("open directory", path: dir) { open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try sync(fd, path: dir)
    }

    public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }
}

/// Durable, atomic file replacement: write `tmp-*` in the target's directory, fsync it, rename over the
/// target, fsync the directory. A reader sees the old file or the complete new one, never a partial one.
/// `midway`, when given, runs after half the bytes are written and synced (fault-injection tests).
public enum AtomicWrite {
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644, midway: ((String) -> Void)? = nil) throws(SystemError) {
        let dir = directory(of: path)
        var template = Array("\(dir)/tmp-\(basename(of: path))-XXXXXX".utf8CString)
        let fd = try systemCall("create temporary file", path: path) { mkstemp(&template) }
        let tmp = String(cString: template)
        var ok = false
        defer { if !ok { unlink(tmp) } }
        do {
            defer { close(fd) }
            if let midway {
                let half = bytes.count / 2
                try Files.writeAll(Array(bytes[0..<half]), to: fd, path: tmp)
                try Files.sync(fd, path: tmp)
                midway(tmp)
                try Files.writeAll(Array(bytes[half...]), to: fd, path: tmp)
            } else {
                try Files.writeAll(bytes, to: fd, path: tmp)
            }
            try systemCall("chmod", path: tmp) { fchmod(fd, mode) }
            try Files.sync(fd, path: tmp)
        }
        try Files.rename(tmp, path)
        ok = true
        try Files.syncDirectory(dir)
    }

    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    public static func basename(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

/// An exclusive advisory lock on a file (flock), held until ``unlock()`` or deinit.
public final class FileLock {
    private var fd: Int32
    public init(_ path: String) throws(SystemError) {
        fd = try systemCall("open lock file", path: path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        do { try systemCall("flock", path: path) { flock(fd, LOCK_EX) } } catch {
            close(fd)
            throw error
        }
    }
    public func unlock() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }
    deinit { unlock() }
}
