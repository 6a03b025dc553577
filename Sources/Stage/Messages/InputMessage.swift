import SystemCalls
import TensorCore

/// Why an input message (or one point of it) was not accepted. Counted per reason, logged rate-limited,
/// and forwarded with the original frames to the dead-letter socket.
public enum RejectReason: String, Sendable, CaseIterable {
    case tooLarge = "too_large"
    case badJSON = "bad_json"
    case notAnObject = "not_an_object"
    case missingField = "missing_field"
    case wrongType = "wrong_type"
    case invalidKey = "invalid_key"
    case invalidTimestamp = "invalid_timestamp"
    case unknownStream = "unknown_stream"
    case unknownPipeline = "unknown_pipeline"
    case unknownMetricSet = "unknown_metric_set"
    case nonFinite = "non_finite"
    case missingMetric = "missing_metric"
    case duplicate = "duplicate"
    case late = "late"
    case tooManyPoints = "too_many_points"
    case shortWindow = "short_window"
    /// A timestamp further ahead of the wall clock than `windows.max_future_s`.
    case future = "future"
}

/// A rejection with a human-readable detail (the field, the value's type, …).
public struct Rejection: Error, Equatable, Sendable, CustomStringConvertible {
    public let reason: RejectReason
    public let detail: String
    public init(_ reason: RejectReason, _ detail: String) { (self.reason, self.detail) = (reason, detail) }
    public var description: String { "\(reason.rawValue): \(detail)" }
}

/// One metric point as received (§5): composite key, timestamp (epoch ms), metric values by name.
public struct InputPoint: Sendable, Equatable {
    public var key: [String]
    public var timestamp: Int64
    /// Metric values by name; `nil` for an explicit JSON null (a missing value).
    public var metrics: [(String, Float?)]
    public var configID: String?
    public var pipelineID: String?
    public var uuid: ShortText?

    public static func == (a: InputPoint, b: InputPoint) -> Bool {
        a.key == b.key && a.timestamp == b.timestamp && a.configID == b.configID && a.pipelineID == b.pipelineID && a.uuid == b.uuid
            && a.metrics.map(\.0) == b.metrics.map(\.0) && a.metrics.map(\.1) == b.metrics.map(\.1)
    }

    public func value(of metric: String) -> Float?? { metrics.first { $0.0 == metric }.map(\.1) }
}

/// A numalogic source payload: a whole window scored at once.
public struct InputWindow: Sendable {
    public var uuid: String?
    public var configID: String?
    public var pipelineID: String?
    public var key: [String]
    public var timestamps: [Int64]
    public var rows: [[(String, Float?)]]
}

public enum InputMessage: Sendable {
    case points([InputPoint])
    case window(InputWindow)
}

/// Where a decoder reads the wall clock.
public enum WallClockSource: Sendable {
    /// The system's: each point is first checked against the coarse clock (the kernel's last tick, a read of
    /// memory), and only a point that looks too far ahead of it against the precise one, so the limit is exact.
    case system
    /// Always this epoch millisecond (tests).
    case fixed(Int64)

    public func milliseconds() -> Int64 {
        switch self {
        case .system: WallClock.milliseconds()
        case .fixed(let ms): ms
        }
    }

    /// Whether `t` lies more than `limit` milliseconds ahead of now.
    @inline(__always) func isAhead(_ t: Int64, by limit: Int64) -> Bool {
        switch self {
        case .system: t > WallClock.coarseMilliseconds() + limit && t > WallClock.milliseconds() + limit
        case .fixed(let ms): t > ms + limit
        }
    }
}

/// Decodes and validates input bodies. Limits bound what one message can cost.
public struct InputDecoder: Sendable {
    public var maximumBodyBytes = 1 << 20
    public var maximumPointsPerMessage = 10_000
    public var maximumKeyValues = 16
    public var maximumKeyValueBytes = 256
    public var maximumMetrics = 256
    /// Points more than this far ahead of the wall clock are rejected as `future` (their event time would
    /// steer windows and retention); `windows.max_future_s`.
    public var maximumFutureMs: Int64 = 86_400_000
    /// The wall clock the future limit is measured against (a fixed time in tests).
    public var wallClock: WallClockSource = .system

    public init() {}


    public func decode(_ message: [UInt8]) -> Result<InputMessage, Rejection> {
        guard message.count <= maximumBodyBytes else { return .failure(Rejection(.tooLarge, "\(message.count) bytes (limit \(maximumBodyBytes))")) }
        // A UTF-8 byte-order mark before the JSON (some editors and Windows tools write one) is not an error.
        let body = message.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(message.dropFirst(3)) : message
        if let points = fastPoints(body) { return .success(.points(points)) }
        let value: JSONValue
        do { value = try JSONValue.parse(body) } catch { return .failure(Rejection(.badJSON, error.description)) }
        switch value {
        case .array(let items):
            guard !items.isEmpty else { return .failure(Rejection(.notAnObject, "an empty array holds no points")) }
            guard items.count <= maximumPointsPerMessage else {
                return .failure(Rejection(.tooManyPoints, "\(items.count) points (limit \(maximumPointsPerMessage))"))
            }
            var points: [InputPoint] = []
            points.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                guard case .object(let o) = item else { return .failure(Rejection(.notAnObject, "element \(i) is a \(item.typeName)")) }
                switch point(o) {
                case .success(let p): points.append(p)
                case .failure(let r): return .failure(Rejection(r.reason, "element \(i): \(r.detail)"))
                }
            }
            return .success(.points(points))
        case .object(let o):
            if o["data"] != nil && o["metrics"] == nil { return window(o).map { .window($0) } }
            return point(o).map { .points([$0]) }
        default:
            return .failure(Rejection(.notAnObject, "the body is a \(value.typeName), not a point object or an array of points"))
        }
    }

    /// The common case read straight from the bytes: a point object, or an array of them, with exactly the
    /// known fields and valid values. Anything else returns nil and goes through the generic path, which
    /// produces the precise rejection (so both paths accept and reject the same messages).
    func fastPoints(_ body: [UInt8]) -> [InputPoint]? {
        body.withUnsafeBufferPointer { buf -> [InputPoint]? in
            var c = JSONCursor(buf)
            c.skipWhitespace()
            var out: [InputPoint] = []
            if c.consume(0x5B) {                                   // [
                if c.consume(0x5D) { return nil }
                repeat {
                    c.skipWhitespace()
                    guard out.count < maximumPointsPerMessage, let p = fastPoint(&c) else { return nil }
                    out.append(p)
                } while c.consume(0x2C)
                guard c.consume(0x5D) else { return nil }
            } else {
                guard let p = fastPoint(&c) else { return nil }
                out.append(p)
            }
            c.skipWhitespace()
            return c.isAtEnd ? out : nil
        }
    }

    private func fastString(_ c: inout JSONCursor) -> String? {
        c.skipWhitespace()
        guard c.peek == 0x22 else { return nil }
        return try? c.readString()
    }

    /// The fast path's bit for a field name (0: not a point's field).
    private static func fieldBit(_ name: UnsafeBufferPointer<UInt8>) -> Int {
        func spells(_ s: StaticString) -> Bool {   // (a plain loop: the generic elementsEqual was 1 % of the daemon)
            guard name.count == s.utf8CodeUnitCount else { return false }
            for k in 0..<name.count where name[k] != s.utf8Start[k] { return false }
            return true
        }
        return switch name.count {
        case 3 where spells("key"): 1
        case 9 where spells("timestamp"): 2
        case 9 where spells("config_id"): 8
        case 7 where spells("metrics"): 4
        case 11 where spells("pipeline_id"): 16
        case 4 where spells("uuid"): 32
        default: 0
        }
    }

    private func fastPoint(_ c: inout JSONCursor) -> InputPoint? {
        guard c.consume(0x7B) else { return nil }                   // {
        var key: [String]?, timestamp: Int64?, metrics: [(String, Float?)]?
        var configID: String?, pipelineID: String?, uuid: ShortText?
        var seen = 0   // bit per field: a repeated field goes to the generic path (which rejects duplicates)
        repeat {
            // Field names matched on their bytes (an escaped one goes to the generic path).
            guard let name = c.readPlainASCII(), c.consume(0x3A) else { return nil }
            c.skipWhitespace()
            let bit = Self.fieldBit(name)
            guard bit != 0, seen & bit == 0 else { return nil }
            seen |= bit
            switch bit {
            case 1:   // key
                guard key == nil else { return nil }
                if c.peek == 0x22 {
                    guard let k = fastString(&c) else { return nil }
                    key = [k]
                } else {
                    guard c.consume(0x5B) else { return nil }
                    var values: [String] = []
                    repeat {
                        guard let k = fastString(&c) else { return nil }
                        values.append(k)
                    } while c.consume(0x2C)
                    guard c.consume(0x5D) else { return nil }
                    key = values
                }
                guard validKey(key!, field: "key") == nil else { return nil }
            case 2:   // timestamp
                guard timestamp == nil, let n = try? c.readNumber(), case .success(let t) = self.timestamp(n) else { return nil }
                timestamp = t
            case 4:   // metrics
                guard metrics == nil, c.consume(0x7B) else { return nil }
                var m: [(String, Float?)] = []
                m.reserveCapacity(8)   // one allocation for the usual few metrics (grown 1, 2, 4: three)
                if !c.consume(0x7D) {
                    repeat {
                        guard let name = fastString(&c), c.consume(0x3A) else { return nil }
                        c.skipWhitespace()
                        if c.readNull() { m.append((name, nil)); continue }
                        guard let n = try? c.readNumber(), case .success(let v) = metricValue(name, n) else { return nil }
                        m.append((name, v))
                    } while c.consume(0x2C)
                    guard c.consume(0x7D) else { return nil }
                }
                guard !m.isEmpty, m.count <= maximumMetrics, Self.namesAreDistinct(m) else { return nil }
                metrics = m
            case 32:   // uuid: a plain one held as its bytes (no String made), any other read as a string
                if c.readNull() {
                    uuid = nil
                } else if let raw = c.readPlainASCII() {
                    guard raw.count <= 256 else { return nil }
                    uuid = ShortText(validUTF8: raw)
                } else {
                    guard let s = fastString(&c), s.utf8.count <= 256 else { return nil }
                    uuid = ShortText(s)
                }
            case 8, 16:   // config_id, pipeline_id
                let v: String?
                if c.readNull() { v = nil } else {
                    guard let s = fastString(&c), s.utf8.count <= 256 else { return nil }
                    v = s
                }
                if bit == 8 { configID = v } else { pipelineID = v }
            default:
                return nil
            }
        } while c.consume(0x2C)
        guard c.consume(0x7D), let key, let timestamp, let metrics else { return nil }
        return InputPoint(key: key, timestamp: timestamp, metrics: metrics, configID: configID, pipelineID: pipelineID, uuid: uuid)
    }

    /// Whether no metric name repeats (a repeated one goes to the generic path, which rejects it). Pairwise for the
    /// few metrics a point usually has: a Set per point cost 2 % of the daemon's CPU.
    static func namesAreDistinct(_ m: [(String, Float?)]) -> Bool {
        guard m.count > 8 else {
            for i in m.indices { for j in (i + 1)..<m.count where m[i].0 == m[j].0 { return false } }
            return true
        }
        return Set(m.map(\.0)).count == m.count
    }

    /// Validates key values already read as strings.
    func validKey(_ values: [String], field: String) -> Rejection? {
        guard !values.isEmpty, values.count <= maximumKeyValues else {
            return Rejection(.invalidKey, "\(field) needs 1…\(maximumKeyValues) values, got \(values.count)")
        }
        for s in values {
            guard s.utf8.count <= maximumKeyValueBytes else {
                return Rejection(.invalidKey, "a \(field) value is \(s.utf8.count) bytes (limit \(maximumKeyValueBytes))")
            }
            guard !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                return Rejection(.invalidKey, "\(field) values may not contain control characters")
            }
        }
        return nil
    }

    func key(_ v: JSONValue?, field: String) -> Result<[String], Rejection> {
        let values: [JSONValue]
        switch v {
        case .string(let s)?: values = [.string(s)]
        case .array(let a)?: values = a
        case nil: return .failure(Rejection(.missingField, field))
        case let other?: return .failure(Rejection(.wrongType, "\(field) is a \(other.typeName), expected a string or a list of strings"))
        }
        var out: [String] = []
        for v in values {
            guard case .string(let s) = v else { return .failure(Rejection(.wrongType, "\(field) values must be strings, got \(v.typeName)")) }
            out.append(s)
        }
        if let r = validKey(out, field: field) { return .failure(r) }
        return .success(out)
    }

    func timestamp(_ v: JSONValue?) -> Result<Int64, Rejection> {
        let t: Int64
        switch v {
        case .int(let i)?: t = i
        case .double(let d)? where d == d.rounded():
            // Checked before converting: 1e19 does not fit an Int64 (the conversion would trap).
            guard d > 0 && d < 10_000_000_000_000 else { return .failure(Rejection(.invalidTimestamp, "\(d) is not plausible epoch milliseconds")) }
            t = Int64(d)
        case nil: return .failure(Rejection(.missingField, "timestamp"))
        case let other?: return .failure(Rejection(.wrongType, "timestamp is a \(other.typeName), expected epoch milliseconds"))
        }
        guard t > 0 && t < 10_000_000_000_000 else { return .failure(Rejection(.invalidTimestamp, "\(t) is not plausible epoch milliseconds")) }
        guard !wallClock.isAhead(t, by: maximumFutureMs) else {
            let now = wallClock.milliseconds()
            return .failure(Rejection(.future, "\(t) is \((t - now) / 1000) s ahead of the wall clock (limit \(maximumFutureMs / 1000) s)"))
        }
        return .success(t)
    }

    func optionalString(_ o: JSONObject, _ field: String) -> Result<String?, Rejection> {
        switch o[field] {
        case nil, .null?: return .success(nil)
        case .string(let s)?:
            guard s.utf8.count <= 256 else { return .failure(Rejection(.wrongType, "\(field) is longer than 256 bytes")) }
            return .success(s)
        case let other?: return .failure(Rejection(.wrongType, "\(field) is a \(other.typeName), expected a string"))
        }
    }

    func metricValue(_ name: String, _ v: JSONValue) -> Result<Float?, Rejection> {
        switch v {
        case .null: return .success(nil)
        case .int(let i): return .success(Float(i))
        case .double(let d):
            let f = Float(d)
            guard f.isFinite else { return .failure(Rejection(.nonFinite, "\(name) = \(d) does not fit a finite float")) }
            return .success(f)
        default: return .failure(Rejection(.wrongType, "metric \(name) is a \(v.typeName), expected a number or null"))
        }
    }

    func point(_ o: JSONObject) -> Result<InputPoint, Rejection> {
        for k in o.keys where !["key", "timestamp", "metrics", "config_id", "pipeline_id", "uuid"].contains(k) {
            return .failure(Rejection(.wrongType, "unexpected field \"\(k.prefix(64))\""))
        }
        let k: [String], ts: Int64
        switch key(o["key"], field: "key") { case .success(let v): k = v; case .failure(let r): return .failure(r) }
        switch timestamp(o["timestamp"]) { case .success(let v): ts = v; case .failure(let r): return .failure(r) }
        guard case .object(let m)? = o["metrics"] else {
            return .failure(o["metrics"] == nil ? Rejection(.missingField, "metrics") : Rejection(.wrongType, "metrics must be an object of name → number"))
        }
        guard m.count > 0, m.count <= maximumMetrics else { return .failure(Rejection(.unknownMetricSet, "\(m.count) metrics (1…\(maximumMetrics))")) }
        var metrics: [(String, Float?)] = []
        for (name, v) in m {
            switch metricValue(name, v) { case .success(let x): metrics.append((name, x)); case .failure(let r): return .failure(r) }
        }
        var p = InputPoint(key: k, timestamp: ts, metrics: metrics)
        switch optionalString(o, "config_id") { case .success(let v): p.configID = v; case .failure(let r): return .failure(r) }
        switch optionalString(o, "pipeline_id") { case .success(let v): p.pipelineID = v; case .failure(let r): return .failure(r) }
        switch optionalString(o, "uuid") { case .success(let v): p.uuid = v.map { ShortText($0) }; case .failure(let r): return .failure(r) }
        return .success(p)
    }

    func window(_ o: JSONObject) -> Result<InputWindow, Rejection> {
        guard case .array(let data)? = o["data"], !data.isEmpty, data.count <= maximumPointsPerMessage else {
            return .failure(Rejection(.wrongType, "data must be a non-empty list of rows"))
        }
        var w = InputWindow(key: [], timestamps: [], rows: [])
        if let ck = o["composite_keys"] {
            switch key(ck, field: "composite_keys") { case .success(let v): w.key = v; case .failure(let r): return .failure(r) }
        } else {
            w.key = []
        }
        for (field, path) in [("uuid", \InputWindow.uuid), ("config_id", \InputWindow.configID), ("pipeline_id", \InputWindow.pipelineID)] {
            switch optionalString(o, field) { case .success(let v): w[keyPath: path] = v; case .failure(let r): return .failure(r) }
        }
        for (i, row) in data.enumerated() {
            guard case .object(let r) = row else { return .failure(Rejection(.wrongType, "data[\(i)] is a \(row.typeName)")) }
            switch timestamp(r["timestamp"]) {
            case .success(let t): w.timestamps.append(t)
            case .failure(let e): return .failure(Rejection(e.reason, "data[\(i)]: \(e.detail)"))
            }
            var values: [(String, Float?)] = []
            for (name, v) in r where name != "timestamp" {
                switch metricValue(name, v) { case .success(let x): values.append((name, x)); case .failure(let e): return .failure(e) }
            }
            w.rows.append(values)
        }
        for i in 1..<max(w.timestamps.count, 1) where w.timestamps[i] < w.timestamps[i - 1] {
            return .failure(Rejection(.invalidTimestamp, "data rows are not in timestamp order"))
        }
        return .success(w)
    }
}

#if canImport(Glibc)
import Glibc
#endif
