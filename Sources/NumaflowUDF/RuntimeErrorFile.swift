import Foundation
import Scoring
import Synchronization
import SystemCalls
import TensorCore

/// Numaflow's runtime error file, as its SDKs write it on a critical error ("persist critical error"):
/// `<directory>/<container>/<unix seconds>-udf.json` holding `{"container", "timestamp" (RFC 3339), "code",
/// "message", "details"}`, where the container is `$NUMAFLOW_UD_CONTAINER_TYPE` (`unknown-container` when
/// unset). Numaflow's UI lists these files in its Errors tab. Written at most once per process, complete or not
/// at all (a temporary file renamed into place).
public enum RuntimeErrorFile {
    public static let defaultDirectory = "/var/numaflow/runtime/application-errors"
    public static let containerVariable = "NUMAFLOW_UD_CONTAINER_TYPE"
    private static let written = Mutex(false)

    /// Writes the error file unless one was written already; returns its path (nil when one was).
    @discardableResult
    public static func persist(code: String, message: String, details: String, directory: String = defaultDirectory,
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               milliseconds: Int64 = WallClock.milliseconds()) throws -> String? {
        guard written.withLock({ w in defer { w = true }; return !w }) else { return nil }
        let container = environment[containerVariable].flatMap { $0.isEmpty ? nil : $0 } ?? "unknown-container"
        let entry = JSONValue.object(JSONObject([
            ("container", .string(container)),
            ("timestamp", .string(RFC3339.format(milliseconds: milliseconds / 1000 * 1000))),
            ("code", .string(code.isEmpty ? "Internal error" : code)),
            ("message", .string(message)),
            ("details", .string(details)),
        ]))
        let dir = "\(directory)/\(CheckpointStore.directoryName([container]))"
        try Files.makeDirectories(dir, mode: 0o777)   // other containers of the pod read it
        let path = "\(dir)/\(milliseconds / 1000)-udf.json"
        try AtomicFile.write(Array(entry.serialized().utf8), to: path)
        return path
    }
}
