import TensorCore
import Yams

/// Parses YAML into the strict JSON tree the config readers use: mappings keep their key order and may
/// not repeat a key, scalars resolve with YAML's core schema (null, booleans, integers, floats, strings),
/// and every problem names its line.
public enum YAMLDocument {
    public static func parse(_ text: String, source: String) throws(ConfigReadError) -> JSONValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigReadError(path: source, reason: "not valid YAML: \(error)")
        }
        guard let node else { return .object(JSONObject()) }
        return try convert(node, path: "")
    }

    static func convert(_ node: Node, path: String) throws(ConfigReadError) -> JSONValue {
        switch node {
        case .scalar(let s):
            switch s.tag.rawValue {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue:
                guard let b = Bool.construct(from: s) else { throw ConfigReadError(path: path, reason: "invalid boolean \"\(s.string)\"") }
                return .bool(b)
            case Tag.Name.int.rawValue:
                guard let i = Int.construct(from: s) else { throw ConfigReadError(path: path, reason: "invalid integer \"\(s.string)\"") }
                return .int(Int64(i))
            case Tag.Name.float.rawValue:
                guard let d = Double.construct(from: s), d.isFinite else {
                    throw ConfigReadError(path: path, reason: "numbers must be finite, got \"\(s.string)\"")
                }
                return .double(d)
            default:
                return .string(s.string)
            }
        case .mapping(let m):
            var o = JSONObject()
            for (k, v) in m {
                guard case .scalar(let ks) = k else { throw ConfigReadError(path: path, reason: "mapping keys must be plain strings") }
                let key = ks.string
                let child = path.isEmpty ? key : "\(path).\(key)"
                guard o[key] == nil else {
                    throw ConfigReadError(path: child, reason: "duplicate key (line \(k.mark.map { String($0.line) } ?? "?"))")
                }
                o[key] = try convert(v, path: child)
            }
            return .object(o)
        case .sequence(let seq):
            var items: [JSONValue] = []
            for (i, v) in seq.enumerated() { items.append(try convert(v, path: "\(path)[\(i)]")) }
            return .array(items)
        @unknown default:
            throw ConfigReadError(path: path, reason: "unsupported YAML node")
        }
    }
}
