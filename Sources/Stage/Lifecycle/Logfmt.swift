import Logging
import Scoring
import SystemCalls
import TensorCore

#if canImport(Glibc)
import Glibc
#endif

/// Structured log lines on standard error, one per event, with an RFC 3339 UTC timestamp (milliseconds):
/// logfmt (`ts=2026-11-25T23:20:01.123Z level=info logger=… msg="…" key=value …`, the default) or JSON
/// (`{"ts":"…","level":"info","logger":"…","msg":"…","key":"value",…}`, `--log-format json`).
/// Bootstrap once in `main` with ``Logfmt/bootstrap(level:format:)``.
public struct Logfmt: LogHandler {
    /// How lines are written (`--log-format`).
    public enum Format: String, Sendable, CaseIterable {
        case logfmt, json
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let format: Format

    public init(label: String, level: Logger.Level, format: Format = .logfmt) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    public static func bootstrap(level: Logger.Level = .info, format: Format = .logfmt) {
        LoggingSystem.bootstrap { Logfmt(label: $0, level: level, format: format) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        Files.writeStandardError(line(level: event.level, message: event.message.description, metadata: event.metadata,
                                      milliseconds: WallClock.milliseconds()))
    }

    /// One event as a line (with its newline).
    func line(level: Logger.Level, message: String, metadata explicit: Logger.Metadata?, milliseconds: Int64) -> String {
        let merged = metadata.merging(explicit ?? [:]) { _, new in new }
        let ts = RFC3339.format(milliseconds: milliseconds)
        switch format {
        case .logfmt:
            var out = "ts=\(ts) level=\(level) logger=\(label) msg=\(Logfmt.quote(message))"
            for k in merged.keys.sorted() { out += " \(k)=\(Logfmt.quote(merged[k]!.description))" }
            return out + "\n"
        case .json:
            // The fixed fields first, then the metadata in key order (a metadata key never replaces a fixed one).
            var fields: [(String, JSONValue)] = [("ts", .string(ts)), ("level", .string("\(level)")), ("logger", .string(label)), ("msg", .string(message))]
            for k in merged.keys.sorted() where !["ts", "level", "logger", "msg"].contains(k) { fields.append((k, .string(merged[k]!.description))) }
            return JSONValue.object(JSONObject(fields)).serialized() + "\n"
        }
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
