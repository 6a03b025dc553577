import Foundation

/// A child process whose standard output and error are read line by line as they arrive, so a test can
/// wait for a specific line (with a deadline) instead of sleeping.
public final class LineProcess: @unchecked Sendable {
    // @unchecked: `out`/`err`/`exited` are guarded by `condition`.
    public let process = Process()
    private let condition = NSCondition()
    private var out: [String] = [], err: [String] = []
    private var openStreams = 2

    /// `environment` entries are added to this process's environment.
    public init(_ executable: String, _ arguments: [String], currentDirectory: String? = nil, environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let o = Pipe(), e = Pipe()
        process.standardOutput = o
        process.standardError = e
        process.standardInput = FileHandle.nullDevice
        try process.run()
        read(o.fileHandleForReading, isError: false)
        read(e.fileHandleForReading, isError: true)
    }

    private func read(_ handle: FileHandle, isError: Bool) {
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let nl = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...nl)
                    condition.lock()
                    if isError { err.append(line) } else { out.append(line) }
                    condition.broadcast()
                    condition.unlock()
                }
            }
            condition.lock()
            if !pending.isEmpty {
                let line = String(decoding: pending, as: UTF8.self)
                if isError { err.append(line) } else { out.append(line) }
            }
            openStreams -= 1
            condition.broadcast()
            condition.unlock()
        }
    }

    public var stdoutLines: [String] { condition.lock(); defer { condition.unlock() }; return out }
    public var stderrLines: [String] { condition.lock(); defer { condition.unlock() }; return err }

    /// The first line (stdout or stderr) containing `text`, waiting up to `timeout` seconds; nil on
    /// timeout or when the process has closed both streams without printing it.
    public func waitForLine(containing text: String, inStderr: Bool = true, timeout: Double = 30) -> String? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let l = (inStderr ? err : out).first(where: { $0.contains(text) }) { return l }
            if openStreams == 0 { return nil }
            if !condition.wait(until: deadline) { return nil }
        }
    }

    /// Number of lines satisfying `predicate`, waiting until at least `count` exist or the deadline passes.
    public func waitForLines(count: Int, inStderr: Bool = false, timeout: Double = 30, where predicate: (String) -> Bool) -> Int {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            let n = (inStderr ? err : out).filter(predicate).count
            if n >= count || openStreams == 0 { return n }
            if !condition.wait(until: deadline) { return (inStderr ? err : out).filter(predicate).count }
        }
    }

    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }
    public var pid: Int32 { process.processIdentifier }

    /// Waits for the process to exit (up to `timeout` seconds; then kills it) and returns its status.
    @discardableResult
    public func waitForExit(timeout: Double = 60) -> Int32 {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        while openStreams > 0 {
            if !condition.wait(until: deadline) {
                condition.unlock()
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return -1
            }
        }
        condition.unlock()
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// The Python interpreter with pyzmq installed by `make test` (`.venv-test`), or `AEFLOW_TEST_PYTHON`.
public enum TestPython {
    public static var path: String {
        if let p = ProcessInfo.processInfo.environment["AEFLOW_TEST_PYTHON"] { return p }
        return Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".venv-test/bin/python").path
    }

    public static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// A script under `Tests/Clients`.
    public static func script(_ name: String) -> String {
        Fixtures.directory.deletingLastPathComponent().appendingPathComponent("Clients/\(name)").path
    }
}
