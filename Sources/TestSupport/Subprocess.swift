import Foundation

/// Runs the built `aeflow` executable (or any program) as a real child process and collects its output.
public enum Subprocess {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// The `aeflow` binary built next to this test bundle (`swift build --build-tests` builds both).
    public static var aeflow: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("aeflow").path
    }

    /// Runs `executable` with `arguments` to completion (output is read concurrently, so large outputs
    /// cannot deadlock the pipes).
    public static func run(_ executable: String, _ arguments: [String], currentDirectory: String? = nil,
                           environment: [String: String]? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let currentDirectory { p.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        if let environment { p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let outData = OutputCollector(out.fileHandleForReading), errData = OutputCollector(err.fileHandleForReading)
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData.wait(), as: UTF8.self),
                      stderr: String(decoding: errData.wait(), as: UTF8.self))
    }

    public static func aeflow(_ arguments: [String], currentDirectory: String? = nil) throws -> Result {
        try run(aeflow, arguments, currentDirectory: currentDirectory)
    }
}

/// Reads a pipe to its end on a dedicated thread.
final class OutputCollector: @unchecked Sendable {
    // @unchecked: `data` is written by the reader thread before `done` is signalled and read only after.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
