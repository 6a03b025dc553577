import Autograd
import TensorCore

/// A value in a state dict: float parameters and buffers, or int64 counters (`num_batches_tracked`).
public enum StateTensor: Equatable, Sendable {
    case float(Tensor)
    case int64([Int64], shape: Shape)

    public var shape: Shape {
        switch self {
        case .float(let t): t.shape
        case .int64(_, let s): s
        }
    }

    public var dtypeName: String {
        switch self {
        case .float: "F32"
        case .int64: "I64"
        }
    }
}

/// Parameters and buffers by dotted PyTorch name, in `state_dict()` order.
public struct StateDict: Equatable, Sendable {
    public private(set) var keys: [String] = []
    private var values: [String: StateTensor] = [:]

    public init() {}

    public subscript(key: String) -> StateTensor? {
        get { values[key] }
        set {
            if let newValue {
                if values.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var count: Int { keys.count }

    /// The entries whose names start with `prefix`, with the prefix removed.
    public func stripping(prefix: String) -> StateDict {
        var out = StateDict()
        for k in keys where k.hasPrefix(prefix) { out[String(k.dropFirst(prefix.count))] = values[k] }
        return out
    }

    /// Reads every tensor of a safetensors file: float dtypes become `.float`, I64 `.int64`.
    public init(_ file: SafeTensorsFile, source: String = "<memory>") throws(SafeTensorsError) {
        for name in file.names {
            let e = file[name]!
            switch e.dtype {
            case .I64: self[name] = .int64(try e.int64Values(name: name, source: source), shape: Shape(e.shape))
            default: self[name] = .float(try e.floatTensor(name: name, source: source))
            }
        }
    }

    /// The entries as safetensors tensors (F32 and I64), names prefixed with `prefix`.
    public func safeTensors(prefix: String = "") -> [(String, SafeTensor)] {
        keys.map { k in
            switch values[k]! {
            case .float(let t): (prefix + k, SafeTensor(t))
            case .int64(let v, let s): (prefix + k, SafeTensor(int64: v, shape: s.dims))
            }
        }
    }

    /// Elements over every entry.
    public var elementCount: Int { keys.reduce(0) { $0 + values[$1]!.shape.dims.reduce(1, *) } }

    /// `name: shape` lines, one per entry, in order (for listings and comparisons).
    public var listing: [String] { keys.map { "\($0) \(values[$0]!.shape)" } }
}

/// Why a state dict does not fit a module; lists every problem, not just the first.
public struct StateDictError: Error, Equatable, CustomStringConvertible {
    public struct Mismatch: Equatable, Sendable {
        public let name: String
        public let expected: String
        public let found: String
    }

    public var missing: [String] = []
    public var unexpected: [String] = []
    public var mismatched: [Mismatch] = []
    public var nonFinite: [String] = []

    public var isEmpty: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty && nonFinite.isEmpty }

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing keys: " + missing.joined(separator: ", ")) }
        if !unexpected.isEmpty { parts.append("unexpected keys: " + unexpected.joined(separator: ", ")) }
        for m in mismatched { parts.append("\(m.name): expected \(m.expected), found \(m.found)") }
        if !nonFinite.isEmpty { parts.append("non-finite values in: " + nonFinite.joined(separator: ", ")) }
        return "state dict does not match the module: " + parts.joined(separator: "; ")
    }
}

extension Module {
    /// Parameters then buffers of each module, depth first — PyTorch's `state_dict()` order and names.
    public func stateDict(prefix: String = "") -> StateDict {
        var out = StateDict()
        collect(into: &out, prefix: prefix)
        return out
    }

    private func collect(into out: inout StateDict, prefix: String) {
        for (n, p) in parameters { out[prefix + n] = .float(p.value) }
        for (n, b) in buffers { out[prefix + n] = b.value }
        for (n, c) in children { c.collect(into: &out, prefix: prefix + n + ".") }
    }

    /// Replaces every parameter and buffer from `dict`. Nothing is changed unless every name is present,
    /// no extra name exists, every shape and dtype matches and every float is finite (when
    /// `requireFinite`); otherwise the error lists all problems.
    public func loadStateDict(_ dict: StateDict, requireFinite: Bool = true) throws(StateDictError) {
        var error = StateDictError()
        let params = namedParameters()
        let bufs = namedBuffers()
        var expected = Set<String>()
        func check(_ name: String, _ want: StateTensor) {
            expected.insert(name)
            guard let have = dict[name] else { error.missing.append(name); return }
            if have.dtypeName != want.dtypeName || have.shape != want.shape {
                error.mismatched.append(.init(name: name, expected: "\(want.dtypeName) \(want.shape)",
                                              found: "\(have.dtypeName) \(have.shape)"))
            } else if requireFinite, case .float(let t) = have, !t.isFinite {
                error.nonFinite.append(name)
            }
        }
        for (n, p) in params { check(n, .float(p.value)) }
        for (n, b) in bufs { check(n, b.value) }
        error.unexpected = dict.keys.filter { !expected.contains($0) }
        guard error.isEmpty else { throw error }
        for (n, p) in params {
            guard case .float(let t)? = dict[n] else { continue }
            p.value = t
        }
        for (n, b) in bufs { b.value = dict[n]! }
    }
}
