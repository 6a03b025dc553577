import Autograd
import NN
import Testing
import TestSupport
import TensorCore

@Suite struct StateDictTests {
    var rng = RandomGenerator(seed: 5)

    @Test mutating func namesAndOrderFollowPyTorch() {
        let bn = BatchNorm1d(4)
        #expect(bn.stateDict().listing == [
            "weight [4]", "bias [4]", "running_mean [4]", "running_var [4]", "num_batches_tracked []",
        ])
        let lstm = LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, using: &rng)
        #expect(lstm.stateDict().keys == [
            "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
        ])
        #expect(lstm.stateDict()["weight_ih_l1"]?.shape == [16, 4])
        let seq = Sequential(Flatten(), Linear(36, 16, using: &rng), BatchNorm1d(16), Tanh(), Dropout(0.25, using: &rng))
        #expect(seq.stateDict().keys == [
            "1.weight", "1.bias", "2.weight", "2.bias", "2.running_mean", "2.running_var", "2.num_batches_tracked",
        ])
        let mha = MultiHeadAttention(numHeads: 2, dimIn: 12, dimQuery: 6, dimKey: 6, using: &rng)
        #expect(mha.stateDict(prefix: "attention.sublayer.").keys.prefix(3) == [
            "attention.sublayer.heads.0.query.weight", "attention.sublayer.heads.0.query.bias", "attention.sublayer.heads.0.key.weight",
        ])
        #expect(mha.stateDict().count == 2 * 6 + 2)
    }

    @Test mutating func loadingReportsEveryProblemAndChangesNothing() throws {
        let seq = Sequential(Linear(3, 2, using: &rng), BatchNorm1d(2))
        let before = seq.stateDict()
        var bad = before
        bad["0.bias"] = nil                                          // missing
        bad["0.weight"] = .float(Tensor.zeros([3, 2]))               // wrong shape
        bad["1.num_batches_tracked"] = .float(Tensor(scalar: 1))     // wrong dtype
        bad["1.running_mean"] = .float(Tensor([.nan, 0]))            // non-finite
        bad["2.weight"] = .float(Tensor.zeros([1]))                  // unexpected
        do {
            try seq.loadStateDict(bad)
            Issue.record("a bad state dict was accepted")
        } catch {
            #expect(error.missing == ["0.bias"])
            #expect(error.unexpected == ["2.weight"])
            #expect(error.mismatched.map(\.name) == ["0.weight", "1.num_batches_tracked"])
            #expect(error.mismatched[0].expected == "F32 [2, 3]" && error.mismatched[0].found == "F32 [3, 2]")
            #expect(error.nonFinite == ["1.running_mean"])
            #expect(error.description.contains("missing keys: 0.bias"))
        }
        #expect(seq.stateDict() == before)
    }

    @Test mutating func roundTripsThroughSafeTensors() throws {
        let a = Sequential(Linear(4, 3, using: &rng), BatchNorm1d(3))
        _ = a(Variable(Tensor.ones([5, 4])))  // updates running stats and the counter
        var file = SafeTensorsFile()
        for (name, t) in a.stateDict().safeTensors(prefix: "model.") { file.set(name, t) }
        let decoded = try SafeTensorsFile.decode(file.encoded())
        #expect(decoded["model.1.num_batches_tracked"]?.dtype == .I64)
        let b = Sequential(Linear(4, 3, using: &rng), BatchNorm1d(3))
        try b.loadStateDict(try StateDict(decoded).stripping(prefix: "model."))
        #expect(b.stateDict() == a.stateDict())
        a.eval(); b.eval()
        let x = Variable(Tensor.uniform([2, 4], using: &rng))
        #expect(a(x).value == b(x).value)
    }

    @Test mutating func trainAndEvalReachEveryDescendant() {
        let inner = Dropout(0.5, using: &rng)
        let seq = Sequential(Sequential(inner), Linear(2, 2, using: &rng))
        seq.eval()
        #expect(!inner.isTraining)
        seq.train()
        #expect(inner.isTraining)
        #expect(seq.trainableParameters.count == 2)
        #expect(seq.parameterCount == 6)
    }
}

@Suite struct InitializerTests {
    func stats(_ t: Tensor) -> (mean: Float, std: Float, lo: Float, hi: Float) {
        (t.mean().scalar, t.variance().scalar.squareRoot(), t.min().scalar, t.max().scalar)
    }

    @Test func fansFollowPyTorch() {
        #expect(Initializer.fans([16, 36]) == (36, 16))
        #expect(Initializer.fans([8, 16, 3]) == (48, 24))
        #expect(Initializer.fans([3, 12, 16]) == (192, 48))
    }

    @Test func distributions() {
        var rng = RandomGenerator(seed: 1)
        let shape: Shape = [200, 300]
        let xn = stats(Initializer.xavierNormal(shape, gain: 2, using: &rng))
        expectClose(xn.std, 2 * (2.0 / 500).squareRoot(), rtol: 0.02, "xavier normal std")
        expectClose(xn.mean, 0, atol: 0.005)
        let xu = stats(Initializer.xavierUniform(shape, gain: Float(2).squareRoot(), using: &rng))
        let bound = Float(2).squareRoot() * (6.0 / 500).squareRoot()
        #expect(xu.lo >= -bound && xu.hi <= bound)
        expectClose(xu.std, bound / Float(3).squareRoot(), rtol: 0.02, "xavier uniform std")
        let ku = stats(Initializer.kaimingUniform(shape, using: &rng))
        let kb = 1 / Float(300).squareRoot()
        #expect(ku.lo >= -kb && ku.hi <= kb && ku.hi > 0.95 * kb)
        #expect(Initializer.Nonlinearity.tanh.gain == Float(5.0 / 3.0))
        #expect(Initializer.Nonlinearity.relu.gain == Float(2).squareRoot())
    }

    @Test func layerDefaultsMatchPyTorchBounds() {
        var rng = RandomGenerator(seed: 2)
        let lin = Linear(50, 40, using: &rng)
        let b = 1 / Float(50).squareRoot()
        #expect(lin.weight.value.abs().max().scalar <= b && lin.bias!.value.abs().max().scalar <= b)
        let convT = ConvTranspose1d(8, 4, kernelSize: 3, using: &rng)  // fan_in = out·k = 12
        #expect(convT.weight.value.abs().max().scalar <= 1 / Float(12).squareRoot())
        #expect(convT.weight.value.abs().max().scalar > 0.8 / Float(12).squareRoot())
        let lstm = LSTM(inputSize: 3, hiddenSize: 25, using: &rng)
        #expect(lstm.trainableParameters.allSatisfy { $0.value.abs().max().scalar <= 0.2 })
        var r1 = RandomGenerator(seed: 9), r2 = RandomGenerator(seed: 9)
        #expect(Linear(3, 3, using: &r1).weight.value == Linear(3, 3, using: &r2).weight.value)
    }
}
