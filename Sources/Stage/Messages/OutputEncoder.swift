import Scoring
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
    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        for b in s.utf8 {
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
        guard let x, x.isFinite else { out.append(contentsOf: "null".utf8); return }
        out.append(contentsOf: x.description.utf8)
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
        out.append(contentsOf: "{\"uuid\":".utf8); appendString(o.uuid, to: &out)
        out.append(contentsOf: ",\"config_id\":".utf8); appendString(o.configID, to: &out)
        out.append(contentsOf: ",\"pipeline_id\":".utf8); appendString(o.pipelineID, to: &out)
        out.append(contentsOf: ",\"composite_keys\":".utf8); appendKey(o.key, to: &out)
        out.append(contentsOf: ",\"timestamp\":\(o.timestamp),\"unified_anomaly\":".utf8); appendFloat(o.unified, to: &out)
        out.append(contentsOf: ",\"data\":{".utf8)
        if let f = o.features {
            for (i, m) in o.metrics.enumerated() {
                appendString(m, to: &out)
                out.append(0x3A)
                appendFloat(f[i], to: &out)
                out.append(0x2C)
            }
            out.append(contentsOf: "\"unified_ML\":".utf8); appendFloat(o.unified, to: &out)
        }
        out.append(contentsOf: "},\"metadata\":{\"model_version\":".utf8)
        out.append(contentsOf: (o.modelVersion.map(String.init) ?? "null").utf8)
        out.append(contentsOf: ",\"threshold\":".utf8)
        if let t = o.threshold {
            out.append(0x5B)
            for (i, v) in t.enumerated() { if i > 0 { out.append(0x2C) }; appendFloat(v, to: &out) }
            out.append(0x5D)
        } else {
            out.append(contentsOf: "null".utf8)
        }
        out.append(contentsOf: ",\"status\":".utf8); appendString(o.status.rawValue, to: &out)
        appendVerdict(o, metricKeys: nil, to: &out)
        out.append(contentsOf: "}}".utf8)
        return out
    }

    /// `,"is_anomaly":…,"expected":{"<metric>":…}` when the output has them. `metricKeys` are the metric names
    /// pre-encoded as `"name":` (the template's), or nil to encode them from `o.metrics`.
    static func appendVerdict(_ o: ScoreOutput, metricKeys: [[UInt8]]?, to out: inout [UInt8]) {
        if let a = o.isAnomaly { out.append(contentsOf: (a ? ",\"is_anomaly\":true" : ",\"is_anomaly\":false").utf8) }
        guard let e = o.expected, e.count == o.metrics.count else { return }
        out.append(contentsOf: ",\"expected\":{".utf8)
        for (i, v) in e.enumerated() {
            if i > 0 { out.append(0x2C) }
            if let k = metricKeys { out.append(contentsOf: k[i]) } else { appendString(o.metrics[i], to: &out); out.append(0x3A) }
            appendFloat(v, to: &out)
        }
        out.append(0x7D)
    }

    /// The train request the daemon sends to the retrain stage.
    public static func trainRequest(uuid: String, configID: String, pipelineID: String, key: [String], metrics: [String]) -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: "{\"header\":\"request_training\",\"uuid\":".utf8)
        appendString(uuid, to: &out)
        out.append(contentsOf: ",\"config_id\":".utf8); appendString(configID, to: &out)
        out.append(contentsOf: ",\"pipeline_id\":".utf8); appendString(pipelineID, to: &out)
        out.append(contentsOf: ",\"composite_keys\":".utf8); appendKey(key, to: &out)
        out.append(contentsOf: ",\"metrics\":".utf8); appendKey(metrics, to: &out)
        out.append(0x7D)
        return out
    }
}

/// Random RFC 4122 version-4 UUIDs for outputs whose input carried none.
public struct UUIDGenerator: Sendable {
    var rng: RandomGenerator
    public init(seed: UInt64) { rng = RandomGenerator(seed: seed) }
    public mutating func next() -> String {
        var b = (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        let hex = b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
        return hex[0..<4].joined() + "-" + hex[4..<6].joined() + "-" + hex[6..<8].joined() + "-" + hex[8..<10].joined() + "-" + hex[10..<16].joined()
    }
}

/// Output encoding with the fragments fixed per pipeline (its id and its metric names as JSON keys)
/// encoded once; produces exactly ``OutputEncoder/encode(_:)``'s bytes.
public struct OutputTemplate: Sendable {
    let pipelineID: [UInt8]
    let metricKeys: [[UInt8]]

    public init(pipelineID: String, metrics: [String]) {
        var p: [UInt8] = []
        OutputEncoder.appendString(pipelineID, to: &p)
        self.pipelineID = p
        metricKeys = metrics.map { m in
            var out: [UInt8] = []
            OutputEncoder.appendString(m, to: &out)
            out.append(0x3A)
            return out
        }
    }

    public func encode(_ o: ScoreOutput) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(200 + 24 * metricKeys.count)
        out.append(contentsOf: "{\"uuid\":".utf8); OutputEncoder.appendString(o.uuid, to: &out)
        out.append(contentsOf: ",\"config_id\":".utf8); OutputEncoder.appendString(o.configID, to: &out)
        out.append(contentsOf: ",\"pipeline_id\":".utf8); out.append(contentsOf: pipelineID)
        out.append(contentsOf: ",\"composite_keys\":".utf8); OutputEncoder.appendKey(o.key, to: &out)
        out.append(contentsOf: ",\"timestamp\":".utf8); out.append(contentsOf: String(o.timestamp).utf8)
        out.append(contentsOf: ",\"unified_anomaly\":".utf8); OutputEncoder.appendFloat(o.unified, to: &out)
        out.append(contentsOf: ",\"data\":{".utf8)
        if let f = o.features {
            for (i, k) in metricKeys.enumerated() {
                out.append(contentsOf: k)
                OutputEncoder.appendFloat(f[i], to: &out)
                out.append(0x2C)
            }
            out.append(contentsOf: "\"unified_ML\":".utf8); OutputEncoder.appendFloat(o.unified, to: &out)
        }
        out.append(contentsOf: "},\"metadata\":{\"model_version\":".utf8)
        out.append(contentsOf: (o.modelVersion.map(String.init) ?? "null").utf8)
        out.append(contentsOf: ",\"threshold\":".utf8)
        if let t = o.threshold {
            out.append(0x5B)
            for (i, v) in t.enumerated() { if i > 0 { out.append(0x2C) }; OutputEncoder.appendFloat(v, to: &out) }
            out.append(0x5D)
        } else {
            out.append(contentsOf: "null".utf8)
        }
        out.append(contentsOf: ",\"status\":".utf8); OutputEncoder.appendString(o.status.rawValue, to: &out)
        OutputEncoder.appendVerdict(o, metricKeys: metricKeys, to: &out)
        out.append(contentsOf: "}}".utf8)
        return out
    }
}
