import Autograd
import NN
import Testing
import TensorCore

/// One torch-made layer fixture (see Scripts/generate_fixtures.py for the naming).
public struct LayerFixture {
    public let name: String
    public let file: SafeTensorsFile
    public let config: JSONObject

    public init(_ name: String) throws {
        self.name = name
        file = try Fixtures.load(name)
        config = try #require(file.jsonMetadata("config").objectValue)
    }

    public var isTraining: Bool { file.metadata["mode"] == "train" }

    public func int(_ key: String, default d: Int? = nil) -> Int {
        if let v = config[key]?.intValue { return Int(v) }
        guard let d else { fatalError("fixture \(name) has no integer config \(key)") }
        return d
    }

    public func bool(_ key: String, default d: Bool) -> Bool { config[key]?.boolValue ?? d }

    /// Entries `<prefix>.<rest>` keyed by `<rest>`, in file order.
    public func group(_ prefix: String) -> [(String, Tensor)] {
        file.names.filter { $0.hasPrefix(prefix + ".") }.map { (String($0.dropFirst(prefix.count + 1)), try! file.floatTensor($0)) }
    }

    public var stateDict: StateDict {
        get throws { try StateDict(file).stripping(prefix: "param.") }
    }

    /// Loads the fixture's parameters into `module`, runs `forward` on the fixture inputs, and checks
    /// outputs (1e-5), input and parameter gradients (1e-4) and any state after the pass (1e-5).
    public func check(
        _ module: any Module, sourceLocation: SourceLocation = #_sourceLocation,
        forward: ([String: Variable]) -> [String: Variable]
    ) throws {
        try module.loadStateDict(try stateDict)
        module.train(isTraining)
        var inputs: [String: Variable] = [:]
        for (k, t) in group("input") { inputs[k] = Variable(t, requiresGrad: true) }
        let outputs = forward(inputs)
        let expectedOutputs = group("output")
        #expect(Set(outputs.keys) == Set(expectedOutputs.map(\.0)), "\(name): outputs", sourceLocation: sourceLocation)
        var objective: Variable?
        for (k, expected) in expectedOutputs {
            guard let y = outputs[k] else { continue }
            expectClose(y.value, expected, atol: 1e-5, "\(name) output.\(k)", sourceLocation: sourceLocation)
            let term = (y * (try file.floatTensor("seed.\(k)"))).sum()
            objective = objective.map { $0 + term } ?? term
        }
        try #require(objective != nil).self
        objective!.backward()
        for (k, expected) in group("grad.input") {
            expectClose(inputs[k]!.grad ?? Tensor.zeros(expected.shape), expected, atol: 1e-4,
                        "\(name) grad.input.\(k)", sourceLocation: sourceLocation)
        }
        let params = Dictionary(uniqueKeysWithValues: module.namedParameters())
        let expectedParamGrads = group("grad.param")
        #expect(expectedParamGrads.count == params.count, "\(name): parameter gradient count", sourceLocation: sourceLocation)
        for (k, expected) in expectedParamGrads {
            guard let p = params[k] else {
                Issue.record("\(name): module has no parameter \(k)", sourceLocation: sourceLocation)
                continue
            }
            expectClose(p.grad ?? Tensor.zeros(expected.shape), expected, atol: 1e-4, "\(name) grad.param.\(k)",
                        sourceLocation: sourceLocation)
        }
        let after = try StateDict(file).stripping(prefix: "after.")
        let state = module.stateDict()
        for k in after.keys {
            switch (after[k]!, state[k]) {
            case (.float(let e), .float(let a)?): expectClose(a, e, atol: 1e-5, "\(name) after.\(k)", sourceLocation: sourceLocation)
            case (.int64(let e, _), .int64(let a, _)?): #expect(a == e, "\(name) after.\(k)", sourceLocation: sourceLocation)
            default: Issue.record("\(name): state \(k) missing or of the wrong type", sourceLocation: sourceLocation)
            }
        }
    }
}
