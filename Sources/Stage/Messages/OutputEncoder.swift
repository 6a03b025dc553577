import Scoring
import Synchronization
import TensorCore

/// One output (numalogic's OutputPayload fields, ARCHITECTURE.md §5).
public struct ScoreOutput: Sendable {
    public var uuid: String
    public var configID: String
    public var pipelineID: String
    public var key: [String]
    public var timestamp: Int64
    public var unified: Float?
    public var metrics: [String]
    public var features: [Float]?
    public var modelVersion: Int?
    public var threshold: [Float]?
    public var status: ScoreStatus
    /// `metadata.is_anomaly`: the unified score reached the pipeline's alert threshold (scored outputs only).
    public var isAnomaly: Bool?
    /// `metadata.expected`: per metric, the value the model expected (its reconstruction in the metric's units).
    public var expected: [Float]?

    public init(uuid: String, configID: String, pipelineID: String, key: [String], timestamp: Int64, unified: Float?, metrics: [String],
                features: [Float]?, modelVersion: Int?, threshold: [Float]?, status: ScoreStatus, isAnomaly: Bool? = nil, expected: [Float]? = nil) {
        (self.uuid, self.configID, self.pipelineID, self.key, self.timestamp, self.unified) = (uuid, configID, pipelineID, key, timestamp, unified)
        (self.metrics, self.features, self.modelVersion, self.threshold, self.status) = (metrics, features, modelVersion, threshold, status)
        (self.isAnomaly, self.expected) = (isAnomaly, expected)
    }
}

/// Writes outputs and train requests as compact JSON, straight into a byte buffer.
public enum OutputEncoder {
    /// Appends a literal's bytes (one copy, no per-byte work).
    @inline(__always)
    static func raw(_ s: StaticString, to out: inout [UInt8]) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { appendString(utf8: $0, to: &out) }
    }

    static func appendString(_ s: ShortText, to out: inout [UInt8]) {
        s.withUTF8 { appendString(utf8: $0, to: &out) }
    }

    static func appendString(utf8 bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        // Most strings (uuids, ids, keys) need no escaping: their bytes go in with one copy.
        for b in bytes where b < 0x20 || b == 0x22 || b == 0x5C {
            appendEscaped(bytes, to: &out)
            return
        }
        out.append(0x22)
        out.append(contentsOf: bytes)
        out.append(0x22)
    }

    static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(0x22)
        for b in bytes {
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(0x22)
    }

    static func appendFloat(_ x: Float?, to out: inout [UInt8]) {
        guard let x, x.isFinite else { OutputEncoder.raw("null", to: &out); return }
        var d = x.description   // shortest round-trip digits, a small string (no allocation)
        d.withUTF8 { out.append(contentsOf: $0) }
    }

    /// `String(v)`'s bytes, written digit by digit from the end of a stack buffer (no string made per number).
    static func appendInt(_ v: Int64, to out: inout [UInt8]) {
        var m = v.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var i = digits.count
            repeat {
                i -= 1
                digits[i] = 0x30 + UInt8(truncatingIfNeeded: m % 10)
                m /= 10
            } while m > 0
            if v < 0 { out.append(0x2D) }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[i...]))
        }
    }

    static func appendKey(_ key: [String], to out: inout [UInt8]) {
        out.append(0x5B)
        for (i, k) in key.enumerated() {
            if i > 0 { out.append(0x2C) }
            appendString(k, to: &out)
        }
        out.append(0x5D)
    }

    public static func encode(_ o: ScoreOutput) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        OutputEncoder.raw("{\"uuid\":", to: &out); appendString(o.uuid, to: &out)
        OutputEncoder.raw(",\"config_id\":", to: &out); appendString(o.configID, to: &out)
        OutputEncoder.raw(",\"pipeline_id\":", to: &out); appendString(o.pipelineID, to: &out)
        OutputEncoder.raw(",\"composite_keys\":", to: &out); appendKey(o.key, to: &out)
        out.append(contentsOf: ",\"timestamp\":\(o.timestamp),\"unified_anomaly\":".utf8); appendFloat(o.unified, to: &out)
        OutputEncoder.raw(",\"data\":{", to: &out)
        if let f = o.features {
            for (i, m) in o.metrics.enumerated() {
                appendString(m, to: &out)
                out.append(0x3A)
                appendFloat(f[i], to: &out)
                out.append(0x2C)
            }
            OutputEncoder.raw("\"unified_ML\":", to: &out); appendFloat(o.unified, to: &out)
        }
        OutputEncoder.raw("},\"metadata\":{\"model_version\":", to: &out)
        if let v = o.modelVersion { OutputEncoder.appendInt(Int64(v), to: &out) } else { OutputEncoder.raw("null", to: &out) }
        OutputEncoder.raw(",\"threshold\":", to: &out)
        if let t = o.threshold {
            out.append(0x5B)
            for (i, v) in t.enumerated() { if i > 0 { out.append(0x2C) }; appendFloat(v, to: &out) }
            out.append(0x5D)
        } else {
            OutputEncoder.raw("null", to: &out)
        }
        OutputEncoder.raw(",\"status\":", to: &out); appendString(o.status.rawValue, to: &out)
        appendVerdict(o, metricKeys: nil, to: &out)
        OutputEncoder.raw("}}", to: &out)
        return out
    }

    /// `,"is_anomaly":…,"expected":{"<metric>":…}` when the output has them. `metricKeys` are the metric names
    /// pre-encoded as `"name":` (the template's), or nil to encode them from `o.metrics`.
    static func appendVerdict(_ o: ScoreOutput, metricKeys: [[UInt8]]?, to out: inout [UInt8]) {
        appendVerdict(isAnomaly: o.isAnomaly, expected: o.expected, metrics: o.metrics, metricKeys: metricKeys, to: &out)
    }

    static func appendVerdict(isAnomaly: Bool?, expected: [Float]?, metrics: [String], metricKeys: [[UInt8]]?, to out: inout [UInt8]) {
        if let a = isAnomaly { if a { raw(",\"is_anomaly\":true", to: &out) } else { raw(",\"is_anomaly\":false", to: &out) } }
        guard let e = expected, e.count == metrics.count else { return }
        OutputEncoder.raw(",\"expected\":{", to: &out)
        for (i, v) in e.enumerated() {
            if i > 0 { out.append(0x2C) }
            if let k = metricKeys { out.append(contentsOf: k[i]) } else { appendString(metrics[i], to: &out); out.append(0x3A) }
            appendFloat(v, to: &out)
        }
        out.append(0x7D)
    }

    /// The train request the daemon sends to the retrain stage.
    public static func trainRequest(uuid: String, configID: String, pipelineID: String, key: [String], metrics: [String]) -> [UInt8] {
        var out: [UInt8] = []
        OutputEncoder.raw("{\"header\":\"request_training\",\"uuid\":", to: &out)
        appendString(uuid, to: &out)
        OutputEncoder.raw(",\"config_id\":", to: &out); appendString(configID, to: &out)
        OutputEncoder.raw(",\"pipeline_id\":", to: &out); appendString(pipelineID, to: &out)
        OutputEncoder.raw(",\"composite_keys\":", to: &out); appendKey(key, to: &out)
        OutputEncoder.raw(",\"metrics\":", to: &out); appendKey(metrics, to: &out)
        out.append(0x7D)
        return out
    }
}

/// Random RFC 4122 version-4 UUIDs for outputs whose input carried none.
public struct UUIDGenerator: Sendable {
    var rng: RandomGenerator
    public init(seed: UInt64) { rng = RandomGenerator(seed: seed) }
    public mutating func next() -> String { nextText().string }

    /// A uuid written straight into the text's own storage: the output of a point without a uuid allocates nothing.
    public mutating func nextText() -> ShortText {
        var b: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &b) { bytes in
            for i in 0..<16 { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
            bytes[6] = (bytes[6] & 0x0F) | 0x40
            bytes[8] = (bytes[8] & 0x3F) | 0x80
        }
        return withUnsafeBytes(of: &b) { bytes in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 36) { out in
                var o = 0
                for i in 0..<16 {
                    if i == 4 || i == 6 || i == 8 || i == 10 { out[o] = UInt8(ascii: "-"); o += 1 }
                    out[o] = Self.hex[Int(bytes[i] >> 4)]
                    out[o + 1] = Self.hex[Int(bytes[i] & 15)]
                    o += 2
                }
                return ShortText(validUTF8: UnsafeBufferPointer(rebasing: out[..<o]))
            }
        }
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)
}

/// Output encoding with the fragments fixed per pipeline (its id and its metric names as JSON keys)
/// encoded once; produces exactly ``OutputEncoder/encode(_:)``'s bytes. A class: the scoring engine encodes every
/// point through its pipeline's template, and a struct's three references were retained and released per point.
public final class OutputTemplate: Sendable {
    let pipelineID: [UInt8]
    let metrics: [String]
    let metricKeys: [[UInt8]]
    /// The metric keys' encoded bytes, twice (a body names each metric in `data` and in `expected`).
    let metricKeysBytes: Int
    let thresholds = ThresholdMemo()

    public init(pipelineID: String, metrics: [String]) {
        var p: [UInt8] = []
        OutputEncoder.appendString(pipelineID, to: &p)
        self.pipelineID = p
        self.metrics = metrics
        metricKeys = metrics.map { m in
            var out: [UInt8] = []
            OutputEncoder.appendString(m, to: &out)
            out.append(0x3A)
            return out
        }
        metricKeysBytes = 2 * metricKeys.reduce(0) { $0 + $1.count }
    }

    /// `o` of this template's pipeline: its pipeline id and metrics are taken from the template.
    public func encode(_ o: ScoreOutput) -> [UInt8] {
        encode(uuid: ShortText(o.uuid), configID: o.configID, key: o.key, timestamp: o.timestamp, unified: o.unified,
               features: o.features, modelVersion: o.modelVersion, threshold: o.threshold, status: o.status, isAnomaly: o.isAnomaly,
               expected: o.expected)
    }

    /// ``encode(_:)`` from the output's parts (the scoring engine's hot path: no ScoreOutput is assembled, which
    /// retained and released each of its arrays and strings once per point); the metrics are the template's.
    public func encode(uuid: ShortText, configID: String, key: [String], timestamp: Int64, unified: Float?, features: [Float]?,
                       modelVersion: Int?, threshold: [Float]?, status: ScoreStatus, isAnomaly: Bool?, expected: [Float]?) -> [UInt8] {
        var out: [UInt8] = []
        // Room for the whole body up front (it grew once or twice per point from a fixed guess): the fixed text,
        // the strings as they are, each metric's key twice (data and expected) and three numbers per metric.
        var room = 320 + uuid.utf8Count + configID.utf8.count + pipelineID.count + metricKeysBytes + 48 * metricKeys.count
        for k in key { room += k.utf8.count + 3 }
        out.reserveCapacity(room)
        OutputEncoder.raw("{\"uuid\":", to: &out); OutputEncoder.appendString(uuid, to: &out)
        OutputEncoder.raw(",\"config_id\":", to: &out); OutputEncoder.appendString(configID, to: &out)
        OutputEncoder.raw(",\"pipeline_id\":", to: &out); out.append(contentsOf: pipelineID)
        OutputEncoder.raw(",\"composite_keys\":", to: &out); OutputEncoder.appendKey(key, to: &out)
        OutputEncoder.raw(",\"timestamp\":", to: &out); OutputEncoder.appendInt(timestamp, to: &out)
        OutputEncoder.raw(",\"unified_anomaly\":", to: &out)
        // The unified score appears twice (unified_anomaly and data.unified_ML): formatted once.
        let unifiedAt = out.count
        OutputEncoder.appendFloat(unified, to: &out)
        let unifiedEnd = out.count
        OutputEncoder.raw(",\"data\":{", to: &out)
        if let f = features {
            for (i, k) in metricKeys.enumerated() {
                out.append(contentsOf: k)
                OutputEncoder.appendFloat(f[i], to: &out)
                out.append(0x2C)
            }
            OutputEncoder.raw("\"unified_ML\":", to: &out)
            // Through a stack copy: a slice of `out` appended to `out` shared its storage, so the append copied the
            // whole body into a new allocation first.
            let n = unifiedEnd - unifiedAt
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n) { digits in
                out.withUnsafeBufferPointer { _ = digits.initialize(fromContentsOf: $0[unifiedAt..<unifiedEnd]) }
                out.append(contentsOf: UnsafeBufferPointer(digits))
            }
        }
        OutputEncoder.raw("},\"metadata\":{\"model_version\":", to: &out)
        if let v = modelVersion { OutputEncoder.appendInt(Int64(v), to: &out) } else { OutputEncoder.raw("null", to: &out) }
        OutputEncoder.raw(",\"threshold\":", to: &out)
        if let t = threshold { thresholds.append(t, to: &out) } else { OutputEncoder.raw("null", to: &out) }
        OutputEncoder.raw(",\"status\":", to: &out); OutputEncoder.appendString(status.rawValue, to: &out)
        OutputEncoder.appendVerdict(isAnomaly: isAnomaly, expected: expected, metrics: metrics, metricKeys: metricKeys, to: &out)
        OutputEncoder.raw("}}", to: &out)
        return out
    }
}

/// The JSON of the last threshold array encoded: a model's thresholds are the same for every point it scores
/// (the adaptive mode's change per point and are encoded each time), so their digits are formatted once.
final class ThresholdMemo: Sendable {
    private let memo = Mutex<(last: [Float], bytes: [UInt8])>(([], []))

    func append(_ t: [Float], to out: inout [UInt8]) {
        memo.withLock { m in
            if m.bytes.isEmpty || t != m.last {
                m.bytes.removeAll(keepingCapacity: true)
                m.bytes.append(0x5B)
                for (i, v) in t.enumerated() { if i > 0 { m.bytes.append(0x2C) }; OutputEncoder.appendFloat(v, to: &m.bytes) }
                m.bytes.append(0x5D)
                m.last = t
            }
            out.append(contentsOf: m.bytes)
        }
    }
}
