import Autograd
import NN
import Testing
import TestSupport
import TensorCore

/// Central-difference checks of a layer with respect to its input and each of its parameters.
private func gradCheckLayer(
    _ module: any Module, input: Tensor, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
    forward: @escaping (Variable) -> Variable
) {
    let x = Variable(input, requiresGrad: true)
    gradCheck(leaves: [x] + module.trainableParameters, what, sourceLocation: sourceLocation) { forward(x) }
}

@Suite struct LayerGradientTests {
    var rng = RandomGenerator(seed: 11)

    func input(_ shape: Shape, seed: UInt64) -> Tensor {
        var r = RandomGenerator(seed: seed)
        return Tensor.uniform(shape, low: -1, high: 1, using: &r)
    }

    @Test mutating func linearConvAndTranspose() {
        let lin = Linear(4, 3, using: &rng)
        gradCheckLayer(lin, input: input([2, 5, 4], seed: 1), "Linear") { lin($0) }
        let conv = Conv1d(3, 2, kernelSize: 3, stride: 2, padding: 1, dilation: 1, using: &rng)
        gradCheckLayer(conv, input: input([2, 3, 7], seed: 2), "Conv1d") { conv($0) }
        let convT = ConvTranspose1d(2, 3, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, using: &rng)
        gradCheckLayer(convT, input: input([2, 2, 4], seed: 3), "ConvTranspose1d") { convT($0) }
    }

    @Test func normalisation() {
        let bn2 = BatchNorm1d(3)
        gradCheckLayer(bn2, input: input([5, 3], seed: 4), "BatchNorm1d 2-D train") { bn2($0) }
        let bn3 = BatchNorm1d(2)
        gradCheckLayer(bn3, input: input([3, 2, 4], seed: 5), "BatchNorm1d 3-D train") { bn3($0) }
        bn3.eval()
        gradCheckLayer(bn3, input: input([3, 2, 4], seed: 6), "BatchNorm1d 3-D eval") { bn3($0) }
        let ln = LayerNorm(5)
        gradCheckLayer(ln, input: input([2, 3, 5], seed: 7), "LayerNorm") { ln($0) }
    }

    @Test mutating func recurrentAndAttention() {
        let lstm = LSTM(inputSize: 2, hiddenSize: 3, numLayers: 2, using: &rng)
        gradCheckLayer(lstm, input: input([2, 4, 2], seed: 8), "LSTM") { x in
            let (y, h, c) = lstm(x)
            return y.sum(alongAxes: [1]) + h.sum(alongAxes: [0]) + c.sum(alongAxes: [0])
        }
        let mha = MultiHeadAttention(numHeads: 2, dimIn: 4, dimQuery: 2, dimKey: 2, using: &rng)
        gradCheckLayer(mha, input: input([2, 3, 4], seed: 9), "MultiHeadAttention") { mha($0, $0, $0) }
    }

    @Test mutating func poolingResamplingActivationsContainers() {
        let seq = Sequential(Conv1d(2, 3, kernelSize: 3, padding: 1, using: &rng), Tanh(), Upsample(scaleFactor: 2),
                             Flatten(), Linear(36, 6, using: &rng), Sigmoid(), Unflatten(dim: 1, sizes: [2, 3]),
                             Softplus(), Softmax(axis: -1), LogSoftmax(axis: 1))
        gradCheckLayer(seq, input: input([2, 2, 6], seed: 10), "Sequential") { seq($0) }
        // distinct, well-separated values for a stable argmax
        var r = RandomGenerator(seed: 12)
        var v = (0..<24).map { Float($0) * 0.1 }
        v.shuffle(using: &r)
        let pool = MaxPool1d(kernelSize: 2)
        gradCheckLayer(pool, input: Tensor(shape: [2, 3, 4], scalars: v), "MaxPool1d") { pool($0).relu() }
    }

    @Test mutating func dropoutWithAFixedMaskIsLinear() {
        let d = Dropout(0.5, using: &rng)
        let saved = d.rng
        gradCheckLayer(d, input: input([3, 4], seed: 13), "Dropout") { x in
            d.rng = saved  // the same mask on every evaluation
            return d(x)
        }
    }
}
