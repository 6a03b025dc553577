import Logging
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// Structured log lines on standard error in logfmt: `ts=… level=info msg="…" key=value …`.
/// Bootstrap once in `main` with ``Logfmt/bootstrap(level:)``.
public struct Logfmt: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public static func bootstrap(level: Logger.Level = .info) {
        LoggingSystem.bootstrap { Logfmt(label: $0, level: level) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let (level, message, explicit) = (event.level, event.message, event.metadata)
        var out = "ts=\(WallClock.milliseconds()) level=\(level) logger=\(label) msg=\(Logfmt.quote(message.description))"
        let merged = metadata.merging(explicit ?? [:]) { _, new in new }
        for k in merged.keys.sorted() { out += " \(k)=\(Logfmt.quote(merged[k]!.description))" }
        out += "\n"
        Files.writeStandardError(out)
    }

    /// Bare when safe, otherwise a double-quoted string with `"`, `\` and control characters escaped.
    static func quote(_ s: String) -> String {
        let safe = !s.isEmpty && s.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0 != "\\" && $0.value != 0x7F }
        if safe { return s }
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: if u.value < 0x20 { out += "\\u{\(String(u.value, radix: 16))}" } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
