import TensorCore
import Yams

/// Parses YAML into the strict JSON tree the config readers use: mappings keep their key order and may
/// not repeat a key, scalars resolve with YAML's core schema (null, booleans, integers, floats, strings),
/// and every problem names its line.
///
/// Bounded (README "Limits"): a document is at most ``maximumBytes``, and expanding it — aliases
/// included, each use of an anchor counting again — may produce at most ``maximumNodes`` nodes and
/// ``maximumScalarBytes`` of scalar text, so nested aliases ("billion laughs") are refused in
/// milliseconds instead of growing without bound.
public enum YAMLDocument {
    public static let maximumBytes = 1 << 20
    public static let maximumNodes = 100_000
    public static let maximumScalarBytes = 4 << 20

    public static func parse(_ text: String, source: String) throws(ConfigReadError) -> JSONValue {
        guard text.utf8.count <= maximumBytes else {
            throw ConfigReadError(path: source, reason: "is \(text.utf8.count) bytes; a configuration may be at most \(maximumBytes)")
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigReadError(path: source, reason: "not valid YAML: \(error)")
        }
        guard let node else { return .object(JSONObject()) }
        var budget = Budget()
        return try convert(node, path: "", budget: &budget)
    }

    /// What expanding the document may still produce.
    struct Budget {
        var nodes = maximumNodes
        var scalarBytes = maximumScalarBytes

        mutating func spend(_ node: Node, path: String) throws(ConfigReadError) {
            nodes -= 1
            if case .scalar(let s) = node { scalarBytes -= s.string.utf8.count }
            guard nodes >= 0, scalarBytes >= 0 else {
                throw ConfigReadError(path: path.isEmpty ? "<document>" : path,
                                      reason: "expands to more than \(maximumNodes) nodes or \(maximumScalarBytes) bytes of text (aliases count each time they are used)")
            }
        }
    }

    /// YAML 1.2 core schema for plain scalars: null, booleans, integers (decimal, 0x, 0o), floats, else string.
    static func resolvePlain(_ text: String, path: String) throws(ConfigReadError) -> JSONValue {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "-.inf", "+.Inf", "-.Inf":
            throw ConfigReadError(path: path, reason: "numbers must be finite, got \(text)")
        default: break
        }
        let body = text.hasPrefix("+") || text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        if !body.isEmpty && body.allSatisfy(\.isASCII) && body.allSatisfy(\.isNumber) {
            guard let i = Int64(text.hasPrefix("+") ? String(text.dropFirst()) : text) else {
                throw ConfigReadError(path: path, reason: "integer \(text) is out of range")
            }
            return .int(i)
        }
        if text.hasPrefix("0x"), let i = Int64(text.dropFirst(2), radix: 16) { return .int(i) }
        if text.hasPrefix("0o"), let i = Int64(text.dropFirst(2), radix: 8) { return .int(i) }
        let isFloatSyntax = text.first.map { $0.isNumber || $0 == "-" || $0 == "+" || $0 == "." } ?? false
            && text.allSatisfy { $0.isNumber || "+-.eE".contains($0) } && text.contains(where: \.isNumber)
        if isFloatSyntax, let d = Double(text) {
            guard d.isFinite else { throw ConfigReadError(path: path, reason: "numbers must be finite, got \(text)") }
            return .double(d)
        }
        return .string(text)
    }

    static func convert(_ node: Node, path: String, budget: inout Budget) throws(ConfigReadError) -> JSONValue {
        try budget.spend(node, path: path)
        switch node {
        case .scalar(let s):
            // Quoted scalars are strings; plain ones resolve with YAML 1.2's core schema.
            guard s.style == .plain else { return .string(s.string) }
            return try resolvePlain(s.string, path: path)
        case .mapping(let m):
            var o = JSONObject()
            for (k, v) in m {
                guard case .scalar(let ks) = k else { throw ConfigReadError(path: path, reason: "mapping keys must be plain strings") }
                let key = ks.string
                let child = path.isEmpty ? key : "\(path).\(key)"
                guard o[key] == nil else {
                    throw ConfigReadError(path: child, reason: "duplicate key (line \(k.mark.map { String($0.line) } ?? "?"))")
                }
                o[key] = try convert(v, path: child, budget: &budget)
            }
            return .object(o)
        case .sequence(let seq):
            var items: [JSONValue] = []
            for (i, v) in seq.enumerated() { items.append(try convert(v, path: "\(path)[\(i)]", budget: &budget)) }
            return .array(items)
        @unknown default:
            throw ConfigReadError(path: path, reason: "unsupported YAML node")
        }
    }
}
