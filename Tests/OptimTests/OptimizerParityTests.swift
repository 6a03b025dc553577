import Autograd
import Optim
import Testing
import TestSupport
import TensorCore

/// Three steps of each optimizer against `torch.optim`, with the gradients PyTorch saw.
@Suite struct OptimizerParityTests {
    func make(_ config: JSONObject, _ params: [Variable]) throws -> any Optimizer {
        func f(_ k: String, _ d: Float) -> Float { config[k]?.doubleValue.map(Float.init) ?? d }
        switch config["optimizer"]?.stringValue {
        case "Adam":
            let betas = config["betas"]?.arrayValue?.compactMap(\.doubleValue).map(Float.init) ?? [0.9, 0.999]
            return Adam(params, learningRate: f("lr", 1e-3), beta1: betas[0], beta2: betas[1], eps: f("eps", 1e-8),
                        weightDecay: f("weight_decay", 0))
        case "Adagrad":
            return Adagrad(params, learningRate: f("lr", 1e-2), lrDecay: f("lr_decay", 0), weightDecay: f("weight_decay", 0),
                           initialAccumulatorValue: f("initial_accumulator_value", 0), eps: f("eps", 1e-10))
        case "RMSprop":
            return RMSprop(params, learningRate: f("lr", 1e-2), alpha: f("alpha", 0.99), eps: f("eps", 1e-8),
                           weightDecay: f("weight_decay", 0), momentum: f("momentum", 0),
                           centered: config["centered"]?.boolValue ?? false)
        case let other:
            throw FixtureError.missingMetadata("known optimizer, got \(String(describing: other))")
        }
    }

    @Test(arguments: ["adam_default", "adam_wd", "adagrad_default", "adagrad_wd", "rmsprop_default", "rmsprop_centered"])
    func threeStepsMatchPyTorch(_ name: String) throws {
        let file = try Fixtures.load("optim/\(name)")
        let config = try #require(file.jsonMetadata("config").objectValue)
        let params = try (0..<2).map { Variable(try file.floatTensor("initial.\($0)"), requiresGrad: true) }
        let opt = try make(config, params)
        for step in 0..<3 {
            opt.zeroGrad()
            #expect(params.allSatisfy { $0.grad == nil })
            for (i, p) in params.enumerated() { p.grad = try file.floatTensor("grad.\(step).\(i)") }
            opt.step()
            for (i, p) in params.enumerated() {
                expectClose(p.value, try file.floatTensor("after.\(step).\(i)"), atol: 1e-5, "\(name) step \(step) param \(i)")
            }
        }
    }

    @Test func parametersWithoutGradientsAreSkipped() {
        let a = Variable(Tensor([1, 2]), requiresGrad: true), b = Variable(Tensor([3]), requiresGrad: true)
        for opt in [Adam([a, b], learningRate: 0.1), Adagrad([a, b]), RMSprop([a, b])] as [any Optimizer] {
            a.grad = Tensor([1, 1])
            b.grad = nil
            opt.step()
            #expect(b.value == Tensor([3]))
            #expect(a.value != Tensor([1, 2]))
            a.value = Tensor([1, 2])
        }
    }

    /// A tiny regression fitted end to end: loss falls by orders of magnitude with each optimizer.
    @Test(arguments: ["adam", "adagrad", "rmsprop"])
    func optimizersFitALine(_ which: String) {
        var rng = RandomGenerator(seed: 4)
        let x = Tensor.uniform([64, 1], low: -1, high: 1, using: &rng)
        let y = x * 3 - 0.5
        let w = Variable(Tensor([[0.1]].flatMap { $0 }).reshaped([1, 1]), requiresGrad: true)
        let b = Variable(Tensor([0]), requiresGrad: true)
        let opt: any Optimizer = switch which {
        case "adam": Adam([w, b], learningRate: 0.05)
        case "adagrad": Adagrad([w, b], learningRate: 0.5)
        default: RMSprop([w, b], learningRate: 0.01)
        }
        func loss() -> Variable { (Variable.linear(Variable(x), weight: w, bias: b) - Variable(y)).squared().mean() }
        let first = loss().value.scalar
        for _ in 0..<400 {
            opt.zeroGrad()
            loss().backward()
            opt.step()
        }
        let last = loss().value.scalar
        #expect(last < first * 1e-3, "\(which): loss \(first) → \(last)")
    }
}
