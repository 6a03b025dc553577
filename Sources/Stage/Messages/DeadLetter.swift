import TensorCore

/// What the dead-letter socket (and the UDF's dead-letter edge) carries for a rejected message or point, for
/// every reason: frame 0 the reason; frame 1 a JSON object `{"reason", "detail", "bytes", "truncated",
/// "point"}` (`bytes`: the original message's size over all frames; `point`: the rejected point's index in
/// an array message, or null); then the original frames as received, cut at ``copyBytes`` in total
/// (`truncated: true` when anything was cut).
public enum DeadLetter {
    /// At most this much of the original message is copied into a dead letter.
    public static let copyBytes = 16 << 10

    public static func frames(_ r: Rejection, original: [[UInt8]], totalBytes: Int? = nil, point: Int? = nil) -> [[UInt8]] {
        var budget = copyBytes
        var cut = false
        let kept = original.map { f -> [UInt8] in
            let n = Swift.min(f.count, budget)
            budget -= n
            if n < f.count { cut = true }
            return Array(f.prefix(n))
        }
        let bytes = totalBytes ?? original.reduce(0) { $0 + $1.count }
        if bytes > kept.reduce(0, { $0 + $1.count }) { cut = true }
        return [Array(r.reason.rawValue.utf8), meta(r, bytes: bytes, truncated: cut, point: point)] + kept
    }

    /// The JSON metadata frame.
    static func meta(_ r: Rejection, bytes: Int, truncated: Bool, point: Int?) -> [UInt8] {
        let o = JSONObject([("reason", .string(r.reason.rawValue)), ("detail", .string(r.detail)), ("bytes", .int(Int64(bytes))),
                            ("truncated", .bool(truncated)), ("point", point.map { .int(Int64($0)) } ?? .null)])
        return Array(JSONValue.object(o).serialized().utf8)
    }

    /// A UDF dead-letter result body: the metadata with the original message (its first ``copyBytes``) as text.
    public static func udfBody(_ r: Rejection, message: [UInt8], id: String) -> [UInt8] {
        let kept = Array(message.prefix(copyBytes))
        let o = JSONObject([("error", .string(r.reason.rawValue)), ("detail", .string(r.detail)), ("id", .string(id)),
                            ("bytes", .int(Int64(message.count))), ("truncated", .bool(kept.count < message.count)),
                            ("message", .string(String(decoding: kept, as: UTF8.self)))])
        return Array(JSONValue.object(o).serialized().utf8)
    }
}
