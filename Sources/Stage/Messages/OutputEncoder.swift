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
        appending(to: &out, bound: ByteWriter.stringBound(s.utf8.count)) { $0.string(s) }
    }

    static func appendString(utf8 bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        appending(to: &out, bound: ByteWriter.stringBound(bytes.count)) { $0.string(utf8: bytes) }
    }

    static func appendFloat(_ x: Float?, to out: inout [UInt8]) {
        appending(to: &out, bound: ByteWriter.floatBound) { $0.float(x) }
    }

    /// `String(v)`'s bytes (no string made per number).
    public static func appendInt(_ v: Int64, to out: inout [UInt8]) {
        appending(to: &out, bound: ByteWriter.intBound) { $0.int(v) }
    }

    /// What `write` writes (at most `bound` bytes), appended to `out` through a stack buffer.
    private static func appending(to out: inout [UInt8], bound: Int, _ write: (inout ByteWriter) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bound) { buf in
            var w = ByteWriter(buf.baseAddress!, capacity: bound)
            write(&w)
            out.append(contentsOf: UnsafeBufferPointer(start: buf.baseAddress, count: w.count))
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

    /// `o`, appended piece by piece: the reference the daemon's writer (``OutputTemplate``) is tested against, and
    /// the encoder for outputs without a template.
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
        appendVerdict(o, to: &out)
        OutputEncoder.raw("}}", to: &out)
        return out
    }

    /// `,"is_anomaly":…,"expected":{"<metric>":…}` when the output has them.
    static func appendVerdict(_ o: ScoreOutput, to out: inout [UInt8]) {
        if let a = o.isAnomaly { if a { raw(",\"is_anomaly\":true", to: &out) } else { raw(",\"is_anomaly\":false", to: &out) } }
        guard let e = o.expected, e.count == o.metrics.count else { return }
        OutputEncoder.raw(",\"expected\":{", to: &out)
        for (i, v) in e.enumerated() {
            if i > 0 { out.append(0x2C) }
            appendString(o.metrics[i], to: &out)
            out.append(0x3A)
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
    /// retained and released each of its arrays and strings once per point); the metrics are the template's. The
    /// body is written into temporary memory of its upper bound (a ``ByteWriter``: no per-piece array append), then
    /// copied once into an array of its size.
    public func encode(uuid: ShortText, configID: String, key: [String], timestamp: Int64, unified: Float?, features: [Float]?,
                       modelVersion: Int?, threshold: [Float]?, status: ScoreStatus, isAnomaly: Bool?, expected: [Float]?) -> [UInt8] {
        var configID = configID
        // The fixed text (under 250 bytes), the strings escaped at worst, each metric's key twice, numbers at their longest.
        let numbers = 2 + (features?.count ?? 0) + (expected?.count ?? 0) + (threshold?.count ?? 0)
        var bound = 320 + ByteWriter.stringBound(uuid.utf8Count) + ByteWriter.stringBound(configID.utf8.count) + pipelineID.count
            + metricKeysBytes + numbers * (ByteWriter.floatBound + 1) + 2 * ByteWriter.intBound
        for k in key { bound += ByteWriter.stringBound(k.utf8.count) + 1 }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bound) { buf in
            var w = ByteWriter(buf.baseAddress!, capacity: bound)
            w.raw("{\"uuid\":"); uuid.withUTF8 { w.string(utf8: $0) }
            w.raw(",\"config_id\":"); configID.withUTF8 { w.string(utf8: $0) }
            w.raw(",\"pipeline_id\":"); w.bytes(pipelineID)
            w.raw(",\"composite_keys\":[")
            for (i, k) in key.enumerated() {
                if i > 0 { w.byte(0x2C) }
                w.string(k)
            }
            w.raw("],\"timestamp\":"); w.int(timestamp)
            w.raw(",\"unified_anomaly\":")
            // The unified score appears twice (unified_anomaly and data.unified_ML): formatted once.
            let unifiedAt = w.count
            w.float(unified)
            let unifiedEnd = w.count
            w.raw(",\"data\":{")
            if let f = features {
                for (i, k) in metricKeys.enumerated() {
                    w.bytes(k)
                    w.float(f[i])
                    w.byte(0x2C)
                }
                w.raw("\"unified_ML\":")
                w.bytes(UnsafeBufferPointer(start: w.base + unifiedAt, count: unifiedEnd - unifiedAt))
            }
            w.raw("},\"metadata\":{\"model_version\":")
            if let v = modelVersion { w.int(Int64(v)) } else { w.raw("null") }
            w.raw(",\"threshold\":")
            if let t = threshold { thresholds.write(t, to: &w) } else { w.raw("null") }
            w.raw(",\"status\":"); w.string(status.rawValue)
            if let a = isAnomaly { if a { w.raw(",\"is_anomaly\":true") } else { w.raw(",\"is_anomaly\":false") } }
            if let e = expected, e.count == metrics.count {
                w.raw(",\"expected\":{")
                for (i, v) in e.enumerated() {
                    if i > 0 { w.byte(0x2C) }
                    w.bytes(metricKeys[i])
                    w.float(v)
                }
                w.byte(0x7D)
            }
            w.raw("}}")
            // The body leaves at its size (the bound is generous: an allocation of it would hold twice the body).
            return [UInt8](UnsafeBufferPointer(start: buf.baseAddress, count: w.count))
        }
    }
}

/// The JSON of the last threshold array encoded: a model's thresholds are the same for every point it scores
/// (the adaptive mode's change per point and are encoded each time), so their digits are formatted once.
final class ThresholdMemo: Sendable {
    private let memo = Mutex<(last: [Float], bytes: [UInt8])>(([], []))

    /// `t` as a JSON array (at most `t.count` × (``ByteWriter/floatBound`` + 1) + 2 bytes).
    func write(_ t: [Float], to w: inout ByteWriter) {
        memo.withLock { m in
            if m.bytes.isEmpty || t != m.last {
                m.bytes.removeAll(keepingCapacity: true)
                m.bytes.append(0x5B)
                for (i, v) in t.enumerated() { if i > 0 { m.bytes.append(0x2C) }; OutputEncoder.appendFloat(v, to: &m.bytes) }
                m.bytes.append(0x5D)
                m.last = t
            }
            w.bytes(m.bytes)
        }
    }
}
