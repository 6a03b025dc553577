import TensorCore

/// A model by config name and constructor arguments (numalogic's `ModelInfo(name, conf)`).
public struct ModelSpec: Equatable, Sendable {
    public var name: String
    public var conf: JSONObject

    public init(name: String, conf: JSONObject = JSONObject()) {
        self.name = name
        self.conf = conf
    }

    public var json: JSONValue { .object(JSONObject([("name", .string(name)), ("conf", .object(conf))])) }
}

/// Reads a model's conf with typed errors, tracking which keys were used so that unknown ones can be
/// reported (`finish()`).
public struct ConfReader {
    public let model: String
    private let conf: JSONObject
    private var used = Set<String>()

    public init(model: String, conf: JSONObject) {
        self.model = model
        self.conf = conf
    }

    private func invalid(_ key: String, _ why: String) -> AutoencoderError { .invalidConf(model: model, key: key, reason: why) }

    /// The value under the first present of `keys` (aliases); two aliases with different values is an error.
    private mutating func lookup(_ keys: [String]) throws(AutoencoderError) -> (String, JSONValue)? {
        var found: (String, JSONValue)?
        for k in keys {
            guard let v = conf[k] else { continue }
            used.insert(k)
            if let (fk, fv) = found, fv != v {
                throw invalid(k, "conflicts with \(fk) (\(fv.serialized()) vs \(v.serialized()))")
            }
            if found == nil { found = (k, v) }
        }
        return found
    }

    public mutating func int(_ keys: String..., default d: Int? = nil, min lo: Int = Int.min) throws(AutoencoderError) -> Int {
        guard let (k, v) = try lookup(keys) else {
            guard let d else { throw .missingConf(model: model, key: keys[0]) }
            return d
        }
        let i: Int64
        switch v {
        case .int(let x): i = x
        case .double(let x) where x == x.rounded() && abs(x) < 1e15: i = Int64(x)
        default: throw invalid(k, "expected an integer, got \(v.serialized())")
        }
        guard i >= Int64(lo) else { throw invalid(k, "must be at least \(lo), got \(i)") }
        return Int(i)
    }

    public mutating func float(_ keys: String..., default d: Float? = nil, range: ClosedRange<Float>? = nil) throws(AutoencoderError) -> Float {
        guard let (k, v) = try lookup(keys) else {
            guard let d else { throw .missingConf(model: model, key: keys[0]) }
            return d
        }
        guard let x = v.doubleValue, x.isFinite else { throw invalid(k, "expected a number, got \(v.serialized())") }
        if let range, !range.contains(Float(x)) { throw invalid(k, "must be in \(range.lowerBound)…\(range.upperBound), got \(x)") }
        return Float(x)
    }

    public mutating func bool(_ keys: String..., default d: Bool) throws(AutoencoderError) -> Bool {
        guard let (k, v) = try lookup(keys) else { return d }
        guard let b = v.boolValue else { throw invalid(k, "expected true or false, got \(v.serialized())") }
        return b
    }

    public mutating func string(_ keys: String..., default d: String?) throws(AutoencoderError) -> String? {
        guard let (k, v) = try lookup(keys) else { return d }
        if case .null = v { return nil }
        guard let s = v.stringValue else { throw invalid(k, "expected a string, got \(v.serialized())") }
        return s
    }

    /// A list of positive integers, or (when `scalarAllowed`) one integer repeated `count` times.
    public mutating func ints(_ keys: String..., default d: [Int], repeatScalarTo count: Int? = nil) throws(AutoencoderError) -> [Int] {
        guard let (k, v) = try lookup(keys) else { return d }
        if let count, case .int(let x) = v {
            guard x > 0 else { throw invalid(k, "must be positive, got \(x)") }
            return [Int](repeating: Int(x), count: count)
        }
        guard let items = v.arrayValue, !items.isEmpty else {
            throw invalid(k, "expected a non-empty list of integers, got \(v.serialized())")
        }
        return try items.map { (item) throws(AutoencoderError) -> Int in
            guard let x = item.intValue, x > 0 else { throw invalid(k, "expected positive integers, got \(item.serialized())") }
            return Int(x)
        }
    }

    /// `loss_fn`, `optim_algo`, `lr`, `weight_decay` (numalogic's BaseAE kwargs).
    public mutating func settings(defaults: TrainingSettings = TrainingSettings()) throws(AutoencoderError) -> TrainingSettings {
        var s = defaults
        if let name = try string("loss_fn", default: nil) {
            guard let l = ReconstructionLoss(rawValue: name) else {
                throw invalid("loss_fn", "unsupported loss \"\(name)\"; expected huber, l1 or mse")
            }
            s.lossFn = l
        }
        if let name = try string("optim_algo", default: nil) {
            guard let o = OptimizerKind(rawValue: name) else {
                throw invalid("optim_algo", "unsupported optimizer \"\(name)\"; expected adam, adagrad or rmsprop")
            }
            s.optimAlgo = o
        }
        s.learningRate = try float("lr", default: defaults.learningRate, range: 0...10)
        s.weightDecay = try float("weight_decay", default: defaults.weightDecay, range: 0...10)
        return s
    }

    /// `beta`, `rho`, and `method` (kl, l1, l2) of a sparse variant.
    public mutating func sparsity() throws(AutoencoderError) -> SparsityPenalty {
        let beta = try float("beta", default: 1e-3, range: 0...1e6)
        let rho = try float("rho", default: 0.05)
        guard rho > 0 && rho < 1 else { throw invalid("rho", "must be strictly between 0 and 1, got \(rho)") }
        let m = try string("method", default: "kl") ?? "kl"
        guard let method = SparsityPenalty.Method(rawValue: m) else {
            throw invalid("method", "unsupported sparsity penalty \"\(m)\"; expected kl, l1 or l2")
        }
        return SparsityPenalty(beta: beta, rho: rho, method: method)
    }

    /// Throws for every key that no getter asked for.
    public func finish() throws(AutoencoderError) {
        let unknown = conf.keys.filter { !used.contains($0) }
        guard unknown.isEmpty else { throw .unknownConf(model: model, keys: unknown) }
    }
}

extension TrainingSettings {
    /// The BaseAE kwargs as conf entries.
    public var conf: [(String, JSONValue)] {
        [("loss_fn", .string(lossFn.rawValue)), ("optim_algo", .string(optimAlgo.rawValue)),
         ("lr", .double(Double(learningRate))), ("weight_decay", .double(Double(weightDecay)))]
    }
}
