import Autograd
import NN
import Testing
import TestSupport
import TensorCore

/// Forward outputs, input gradients and parameter gradients of every layer against PyTorch.
@Suite struct LayerParityTests {
    var rng = RandomGenerator(seed: 0)

    @Test(arguments: ["nn/linear", "nn/linear_3d", "nn/linear_nobias"])
    mutating func linear(_ name: String) throws {
        let f = try LayerFixture(name)
        let m = Linear(f.int("in"), f.int("out"), bias: f.bool("bias", default: true), using: &rng)
        try f.check(m) { ["y": m($0["x"]!)] }
    }

    @Test(arguments: ["nn/conv1d_same", "nn/conv1d_strided", "nn/conv1d_nobias"])
    mutating func conv1d(_ name: String) throws {
        let f = try LayerFixture(name)
        let m = Conv1d(f.int("in_channels"), f.int("out_channels"), kernelSize: f.int("kernel_size"),
                       stride: f.int("stride"), padding: f.int("padding"), dilation: f.int("dilation"),
                       bias: f.bool("bias", default: true), using: &rng)
        try f.check(m) { ["y": m($0["x"]!)] }
    }

    @Test(arguments: ["nn/convtranspose1d_same", "nn/convtranspose1d_strided", "nn/convtranspose1d_dilated"])
    mutating func convTranspose1d(_ name: String) throws {
        let f = try LayerFixture(name)
        let m = ConvTranspose1d(f.int("in_channels"), f.int("out_channels"), kernelSize: f.int("kernel_size"),
                                stride: f.int("stride"), padding: f.int("padding"),
                                outputPadding: f.int("output_padding", default: 0), dilation: f.int("dilation", default: 1),
                                using: &rng)
        try f.check(m) { ["y": m($0["x"]!)] }
    }

    @Test(arguments: ["nn/maxpool1d", "nn/maxpool1d_padded"])
    func maxPool(_ name: String) throws {
        let f = try LayerFixture(name)
        let m = MaxPool1d(kernelSize: f.int("kernel_size"), stride: f.int("stride"), padding: f.int("padding"))
        try f.check(m) { ["y": m($0["x"]!)] }
    }

    @Test(arguments: ["nn/upsample_x2", "nn/upsample_x3"])
    func upsample(_ name: String) throws {
        let f = try LayerFixture(name)
        let m = Upsample(scaleFactor: Float(f.int("scale_factor")))
        try f.check(m) { ["y": m($0["x"]!)] }
    }

    @Test(arguments: ["nn/batchnorm1d_2d_train", "nn/batchnorm1d_3d_train", "nn/batchnorm1d_3d_eval"])
    func batchNorm(_ name: String) throws {
        let f = try LayerFixture(name)
        let m = BatchNorm1d(f.int("num_features"))
        try f.check(m) { ["y": m($0["x"]!)] }
    }

    @Test(arguments: ["nn/layernorm", "nn/layernorm_2d"])
    func layerNorm(_ name: String) throws {
        let f = try LayerFixture(name)
        let shape = try #require(f.config["normalized_shape"]?.arrayValue).map { Int($0.intValue!) }
        let m = LayerNorm(shape)
        try f.check(m) { ["y": m($0["x"]!)] }
    }

    /// Dropout masks come from different generators, so the mask is read off PyTorch's output and the
    /// scaling and gradient semantics are compared.
    @Test func dropoutScalingAndGradient() throws {
        let f = try LayerFixture("nn/dropout")
        let p = Float(try #require(f.config["p"]?.doubleValue))
        let torchOut = try f.file.floatTensor("output.y")
        let mask = torchOut.map { $0 != 0 ? 1 / (1 - p) : 0 }
        try f.check(Identity()) { ["y": $0["x"]! * mask] }
        var rng = RandomGenerator(seed: 3)
        let d = Dropout(p, using: &rng)
        let x = Variable(Tensor.ones([100, 100]))
        let y = d(x).value
        let kept = y.scalars.filter { $0 != 0 }
        #expect(kept.allSatisfy { abs($0 - 1 / (1 - p)) < 1e-6 })
        expectClose(Float(kept.count) / 10_000, 1 - p, atol: 0.02)
        d.eval()
        #expect(d(x).value == x.value)
    }

    @Test mutating func lstm() throws {
        let f = try LayerFixture("nn/lstm")
        let m = LSTM(inputSize: f.int("input_size"), hiddenSize: f.int("hidden_size"), numLayers: f.int("num_layers"), using: &rng)
        try f.check(m) { inputs in
            let (y, h, c) = m(inputs["x"]!)
            return ["y": y, "h": h, "c": c]
        }
    }

    @Test mutating func multiHeadAttention() throws {
        let f = try LayerFixture("nn/attention")
        let m = MultiHeadAttention(numHeads: f.int("num_heads"), dimIn: f.int("dim_in"), dimQuery: f.int("dim_q"),
                                   dimKey: f.int("dim_k"), using: &rng)
        try f.check(m) { ["y": m($0["q"]!, $0["k"]!, $0["v"]!)] }
    }

    @Test mutating func sequentialWithFlattenAndUnflatten() throws {
        let f = try LayerFixture("nn/sequential")
        let m = Sequential(Flatten(), Linear(12, 8, using: &rng), Tanh(), Linear(8, 12, using: &rng), Unflatten(dim: 1, sizes: [3, 4]))
        try f.check(m) { ["y": m($0["x"]!)] }
    }

    @Test(arguments: ["relu", "tanh", "sigmoid", "softplus", "softmax_last", "softmax_mid", "logsoftmax_last", "logsoftmax_first"])
    func activation(_ which: String) throws {
        let f = try LayerFixture("nn/act_\(which)")
        let m: any Layer = switch which {
        case "relu": ReLU()
        case "tanh": Tanh()
        case "sigmoid": Sigmoid()
        case "softplus": Softplus()
        case "softmax_last": Softmax(axis: -1)
        case "softmax_mid": Softmax(axis: 1)
        case "logsoftmax_last": LogSoftmax(axis: -1)
        default: LogSoftmax(axis: 0)
        }
        try f.check(m) { ["y": m($0["x"]!)] }
    }

    @Test(arguments: ["huber", "l1", "mse", "halfmse"], Reduction.allCases)
    func loss(_ which: String, _ reduction: Reduction) throws {
        let f = try LayerFixture("nn/loss_\(which)_\(reduction.rawValue)")
        try f.check(Identity()) { x in
            let (a, b) = (x["input"]!, x["target"]!)
            let y: Variable = switch which {
            case "huber": Loss.huber(a, b, reduction: reduction)
            case "l1": Loss.l1(a, b, reduction: reduction)
            case "mse": Loss.mse(a, b, reduction: reduction)
            default: Loss.halfMSE(a, b, reduction: reduction)
            }
            return ["y": y]
        }
    }
}
