#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The kernel's name of a thread: what `top -H`, `ps -L`, `perf` and `/proc/<pid>/task/<tid>/comm` show. Foundation's
/// `Thread.name` stays inside Foundation on Linux, so without this every AEFlow thread showed the name of the
/// dispatch thread that started it.
public enum ThreadName {
    /// The kernel keeps 15 bytes of a name.
    public static let limit = 15

    /// The kernel name for `name`: without an `aeflow-` prefix (the process's name says it), cut to ``limit`` bytes
    /// at a character boundary.
    public static func kernelName(_ name: String) -> String {
        var s = Substring(name)
        if s.hasPrefix("aeflow-") && s.count > "aeflow-".count { s = s.dropFirst("aeflow-".count) }
        while s.utf8.count > limit { s = s.dropLast() }
        return String(s)
    }

    /// Names the calling thread ``kernelName(_:)`` of `name`, through `/proc/thread-self/comm` (what
    /// `pthread_setname_np` does; Glibc's module does not export it). A failure (no /proc) leaves the name as it was
    /// and is returned: the thread works the same without its name.
    @discardableResult
    public static func setCurrent(_ name: String) -> SystemError? {
        let bytes = Array(kernelName(name).utf8)
        do throws(SystemError) {
            let fd = try systemCall("open", path: path) { open(path, O_WRONLY | O_CLOEXEC) }
            defer { close(fd) }
            try systemCall("write", path: path) { write(fd, bytes, bytes.count) }
            return nil
        } catch {
            return error
        }
    }

    /// The calling thread's kernel name.
    public static func current() throws(SystemError) -> String {
        let fd = try systemCall("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = try systemCall("read", path: path) { read(fd, &buffer, buffer.count) }
        return String(decoding: buffer[..<n].prefix { $0 != 0x0A }, as: UTF8.self)
    }

    static let path = "/proc/thread-self/comm"
}

extension ThreadName {
    /// A thread (not yet started) running `body` under `name`: Foundation's name and, set by the thread itself when
    /// it starts, the kernel's (``setCurrent(_:)``). `stackSize` 0 keeps the default.
    public static func thread(_ name: String, stackSize: Int = 0, _ body: @escaping @Sendable () -> Void) -> Thread {
        let t = Thread {
            setCurrent(name)
            body()
        }
        t.name = name
        if stackSize > 0 { t.stackSize = stackSize }
        return t
    }
}
