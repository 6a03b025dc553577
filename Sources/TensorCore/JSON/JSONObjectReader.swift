/// A config value at `path` that is missing, of the wrong type, invalid, or not a known key.
public struct ConfigReadError: Error, Equatable, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) { (self.path, self.reason) = (path, reason) }
    public var description: String { "\(path): \(reason)" }
}

/// Reads a JSON object strictly: typed getters that name the full key path in errors, and ``finish()``
/// that rejects every key no getter asked for. Config sections (YAML converted to JSON values) and model,
/// transform and threshold `conf` objects are read with it.
public struct JSONObjectReader {
    public let path: String
    public let object: JSONObject
    private var used = Set<String>()

    public init(_ object: JSONObject, path: String) {
        self.object = object
        self.path = path
    }

    /// A reader for `value`, which must be an object (null counts as an empty object).
    public init(_ value: JSONValue?, path: String) throws(ConfigReadError) {
        switch value {
        case .object(let o)?: self.init(o, path: path)
        case .null?, nil: self.init(JSONObject(), path: path)
        case let other?: throw ConfigReadError(path: path, reason: "expected a mapping, got \(other.typeName)")
        }
    }

    public func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public func has(_ key: String) -> Bool { object[key] != nil }

    /// The raw value of `key` (marked as used).
    public mutating func value(_ key: String) -> JSONValue? {
        used.insert(key)
        return object[key]
    }

    public mutating func int(_ key: String, default d: Int? = nil, range: ClosedRange<Int>? = nil) throws(ConfigReadError) -> Int {
        guard let v = value(key), v != .null else {
            guard let d else { throw ConfigReadError(path: child(key), reason: "is required") }
            return d
        }
        let i: Int
        switch v {
        case .int(let x): i = Int(x)
        case .double(let x) where x == x.rounded() && Swift.abs(x) < 1e15: i = Int(x)
        default: throw ConfigReadError(path: child(key), reason: "expected an integer, got \(v.serialized())")
        }
        if let range, !range.contains(i) { throw ConfigReadError(path: child(key), reason: "must be in \(range.lowerBound)…\(range.upperBound), got \(i)") }
        return i
    }

    public mutating func double(_ key: String, default d: Double? = nil, range: ClosedRange<Double>? = nil) throws(ConfigReadError) -> Double {
        guard let v = value(key), v != .null else {
            guard let d else { throw ConfigReadError(path: child(key), reason: "is required") }
            return d
        }
        guard let x = v.doubleValue, x.isFinite else { throw ConfigReadError(path: child(key), reason: "expected a number, got \(v.serialized())") }
        if let range, !range.contains(x) { throw ConfigReadError(path: child(key), reason: "must be in \(range.lowerBound)…\(range.upperBound), got \(x)") }
        return x
    }

    public mutating func float(_ key: String, default d: Float? = nil, range: ClosedRange<Double>? = nil) throws(ConfigReadError) -> Float {
        Float(try double(key, default: d.map(Double.init), range: range))
    }

    public mutating func bool(_ key: String, default d: Bool? = nil) throws(ConfigReadError) -> Bool {
        guard let v = value(key), v != .null else {
            guard let d else { throw ConfigReadError(path: child(key), reason: "is required") }
            return d
        }
        guard let b = v.boolValue else { throw ConfigReadError(path: child(key), reason: "expected true or false, got \(v.serialized())") }
        return b
    }

    public mutating func string(_ key: String, default d: String? = nil) throws(ConfigReadError) -> String {
        guard let v = value(key), v != .null else {
            guard let d else { throw ConfigReadError(path: child(key), reason: "is required") }
            return d
        }
        guard let s = v.stringValue else { throw ConfigReadError(path: child(key), reason: "expected a string, got \(v.serialized())") }
        return s
    }

    public mutating func optionalString(_ key: String) throws(ConfigReadError) -> String? {
        guard let v = value(key), v != .null else { return nil }
        guard let s = v.stringValue else { throw ConfigReadError(path: child(key), reason: "expected a string, got \(v.serialized())") }
        return s
    }

    public mutating func strings(_ key: String, default d: [String]? = nil) throws(ConfigReadError) -> [String] {
        guard let v = value(key), v != .null else {
            guard let d else { throw ConfigReadError(path: child(key), reason: "is required") }
            return d
        }
        if let s = v.stringValue { return [s] }
        guard let items = v.arrayValue else { throw ConfigReadError(path: child(key), reason: "expected a list of strings, got \(v.serialized())") }
        return try items.enumerated().map { (i, item) throws(ConfigReadError) -> String in
            guard let s = item.stringValue else { throw ConfigReadError(path: "\(child(key))[\(i)]", reason: "expected a string, got \(item.serialized())") }
            return s
        }
    }

    /// A list of strings, strictly (a single string is refused), with at least `minimum` entries.
    public mutating func stringList(_ key: String, default d: [String]? = nil, minimum: Int = 0) throws(ConfigReadError) -> [String] {
        if let v = value(key), v != .null, v.arrayValue == nil {
            throw ConfigReadError(path: child(key), reason: "expected a list of strings, got \(v.serialized())")
        }
        let list = try strings(key, default: d)
        guard list.count >= minimum else {
            throw ConfigReadError(path: child(key), reason: "must list at least \(minimum) \(minimum == 1 ? "entry" : "entries")")
        }
        return list
    }

    /// A number or a list of numbers (`scalar` true when it was a single number).
    public mutating func floats(_ key: String) throws(ConfigReadError) -> (values: [Float], scalar: Bool)? {
        guard let v = value(key), v != .null else { return nil }
        if let x = v.doubleValue, x.isFinite { return ([Float(x)], true) }
        guard let items = v.arrayValue, !items.isEmpty else {
            throw ConfigReadError(path: child(key), reason: "expected a number or a list of numbers, got \(v.serialized())")
        }
        return (try items.enumerated().map { (i, item) throws(ConfigReadError) -> Float in
            guard let x = item.doubleValue, x.isFinite else { throw ConfigReadError(path: "\(child(key))[\(i)]", reason: "expected a number, got \(item.serialized())") }
            return Float(x)
        }, false)
    }

    /// A nested reader for the mapping under `key` (absent or null gives an empty mapping).
    public mutating func object(_ key: String) throws(ConfigReadError) -> JSONObjectReader {
        try JSONObjectReader(value(key), path: child(key))
    }

    /// The items of the list under `key` (absent or null gives none).
    public mutating func array(_ key: String) throws(ConfigReadError) -> [JSONValue] {
        guard let v = value(key), v != .null else { return [] }
        guard let items = v.arrayValue else { throw ConfigReadError(path: child(key), reason: "expected a list, got \(v.typeName)") }
        return items
    }

    /// Throws for the first key (in document order) not in `known`, before anything is read: a reader calls it
    /// first so that an unknown key is reported ahead of any check across fields.
    public func expect(_ known: [String]) throws(ConfigReadError) {
        guard let first = object.keys.first(where: { !known.contains($0) }) else { return }
        throw ConfigReadError(path: child(first), reason: "unknown key (accepted here: \(known.sorted().joined(separator: ", ")))")
    }

    /// Throws for the first key no getter asked for, naming its full path and the known keys.
    public func finish(known: [String]? = nil) throws(ConfigReadError) {
        let unknown = object.keys.filter { !used.contains($0) }
        guard let first = unknown.first else { return }
        let accepted = (known ?? Array(used)).sorted().joined(separator: ", ")
        throw ConfigReadError(path: child(first), reason: "unknown key (accepted here: \(accepted))")
    }
}
