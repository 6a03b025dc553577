/// Why a scoring component could not be configured, fitted, loaded or used.
public enum ScoringError: Error, Equatable, CustomStringConvertible {
    /// A config value (at a dotted path) is missing, of the wrong type, or invalid.
    case invalidConfig(path: String, reason: String)
    /// Unknown config keys, with their full paths.
    case unknownKeys([String])
    /// No component of this name exists for this role.
    case unknownComponent(role: String, name: String, known: [String])
    /// Data of the wrong shape for a fitted component.
    case invalidShape(String)
    /// A component used before it was fitted.
    case notFitted(String)
    /// Fitting data that cannot be fitted (empty, non-finite).
    case invalidData(String)

    public var description: String {
        switch self {
        case .invalidConfig(let p, let r): "\(p): \(r)"
        case .unknownKeys(let keys): "unknown config keys: \(keys.joined(separator: ", "))"
        case .unknownComponent(let role, let name, let known): "unknown \(role) \"\(name)\"; known: \(known.joined(separator: ", "))"
        case .invalidShape(let s): "invalid shape: \(s)"
        case .notFitted(let s): "\(s) is not fitted"
        case .invalidData(let s): "invalid data: \(s)"
        }
    }
}
