import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// Named points where a process can be made to stop dead, for crash-safety tests: set the environment
/// variable `AEFLOW_FAULT` to a comma-separated list of point names. Nothing is armed without it.
///
/// Points: `checkpoint-write` — a checkpoint file is half written (its temporary file exists, fsynced,
/// not renamed) and the writing thread stops forever, announcing it on standard error as
/// `fault injected: checkpoint-write <path>`, so a test can kill the process at exactly that moment.
public enum FaultInjection {
    static let armed: Set<String> = {
        guard let raw = getenv("AEFLOW_FAULT") else { return [] }
        return Set(String(cString: raw).split(separator: ",").map { String($0) })
    }()

    public static func isArmed(_ point: String) -> Bool { !armed.isEmpty && armed.contains(point) }

    /// Announces the point and blocks the calling thread forever (the test kills the process).
    static func stall(_ point: String, _ detail: String) -> Never {
        Files.writeStandardError("fault injected: \(point) \(detail)\n")
        while true { pause() }
    }
}
