import Foundation
import TensorCore

/// `${NAME}` and `${NAME:-default}` in a configuration's string values are replaced by the process's environment
/// (README "Configuration"), so one file serves every replica of a deployment with per-replica paths, e.g.
/// `store.path: /var/lib/aeflow/${HOSTNAME}/models`. `$$` is a literal `$`. A variable that is unset (and has no
/// default) is an error naming where it was used; so is an unterminated `${`.
public enum EnvironmentExpansion {
    public static func expand(_ value: JSONValue, environment: [String: String] = ProcessInfo.processInfo.environment,
                              path: String = "") throws(ConfigReadError) -> JSONValue {
        switch value {
        case .string(let s):
            return .string(try expand(s, environment: environment, path: path))
        case .array(let a):
            var out: [JSONValue] = []
            for (i, v) in a.enumerated() { out.append(try expand(v, environment: environment, path: "\(path)[\(i)]")) }
            return .array(out)
        case .object(let o):
            var out = JSONObject([])
            for (k, v) in o { out[k] = try expand(v, environment: environment, path: path.isEmpty ? k : "\(path).\(k)") }
            return .object(out)
        default:
            return value
        }
    }

    public static func expand(_ s: String, environment: [String: String], path: String) throws(ConfigReadError) -> String {
        guard s.contains("$") else { return s }
        var out = ""
        var rest = Substring(s)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let after = rest[rest.index(after: dollar)...]
            if after.hasPrefix("$") {
                out += "$"
                rest = after.dropFirst()
            } else if after.hasPrefix("{") {
                guard let close = after.firstIndex(of: "}") else {
                    throw ConfigReadError(path: path, reason: "has an unterminated ${ in \"\(s)\"")
                }
                let body = after[after.index(after: after.startIndex)..<close]
                let parts = body.components(separatedBy: ":-")
                let name = parts[0]
                guard !name.isEmpty, name.allSatisfy({ $0 == "_" || $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                    throw ConfigReadError(path: path, reason: "has an invalid variable name in \"${\(body)}\"")
                }
                if let v = environment[name] {
                    out += v
                } else if parts.count > 1 {
                    out += body[body.index(body.startIndex, offsetBy: name.count + 2)...]
                } else {
                    throw ConfigReadError(path: path, reason: "uses ${\(name)}, which is not set in the environment (give a default: ${\(name):-value})")
                }
                rest = after[after.index(after: close)...]
            } else {
                out += "$"
                rest = after
            }
        }
        return out + rest
    }
}
