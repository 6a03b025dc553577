#if canImport(Glibc)
import Glibc
#endif

/// inotify on a set of directories (Linux): reports which watches saw a file created, moved in or closed after
/// writing. Where inotify is unavailable (or its read fails) callers poll; read errors are counted in
/// ``readErrors`` rather than hidden.
public final class DirectoryWatcher {
    private let fd: Int32
    public private(set) var readErrors = 0
    public private(set) var lastError: SystemError?

    public init() {
        #if os(Linux)
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        #else
        fd = -1
        #endif
    }

    deinit { if fd >= 0 { close(fd) } }

    /// False: poll instead.
    public var isAvailable: Bool { fd >= 0 }

    /// Watches `directory`; nil when it cannot (it does not exist yet, say).
    public func add(_ directory: String) -> Int32? {
        #if os(Linux)
        guard fd >= 0 else { return nil }
        let wd = inotify_add_watch(fd, directory, UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE))
        return wd >= 0 ? wd : nil
        #else
        return nil
        #endif
    }

    public func remove(_ wd: Int32) {
        #if os(Linux)
        if fd >= 0 { inotify_rm_watch(fd, wd) }
        #endif
    }

    /// Waits up to `seconds` for events and returns the watch descriptors that fired.
    public func wait(seconds: Double) -> [Int32] {
        guard fd >= 0 else { return [] }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard (try? systemCall("poll inotify", { poll(&p, 1, Int32(seconds * 1000)) })) ?? 0 > 0 else { return [] }
        var buf = [UInt8](repeating: 0, count: 8192)
        var fired: [Int32] = []
        while true {
            let result = buf.withUnsafeMutableBytes { b in Result { () throws(SystemError) in try systemCall("read inotify") { read(fd, b.baseAddress!, b.count) } } }
            let n: Int
            switch result {
            case .success(let count): n = count
            case .failure(let error):
                if error.errno != EAGAIN { readErrors += 1; lastError = error }
                n = 0
            }
            guard n > 0 else { break }
            var off = 0
            buf.withUnsafeBytes { raw in
                while off + 16 <= n {
                    let wd = raw.loadUnaligned(fromByteOffset: off, as: Int32.self)
                    let len = Int(raw.loadUnaligned(fromByteOffset: off + 12, as: UInt32.self))
                    fired.append(wd)
                    off += 16 + len
                }
            }
        }
        return Array(Set(fired))
    }
}

/// Process-level facts and settings.
public enum ProcessInfoSystem {
    /// Runs the calling thread at the lowest CPU priority (Linux: `setpriority` on the thread id 0 = caller).
    public static func lowerThreadPriority() {
        #if os(Linux)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
        #endif
    }

    /// The process's peak resident set (VmHWM), in bytes; 0 when unknown.
    public static func peakResidentBytes() -> Int { statusField("VmHWM:") * 1024 }

    /// The process's resident set (VmRSS), in bytes; 0 when unknown.
    public static func residentBytes() -> Int { statusField("VmRSS:") * 1024 }

    static func statusField(_ name: String) -> Int {
        guard let text = Files.readSmallText("/proc/self/status", limit: 1 << 16) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        }
        return 0
    }
}
