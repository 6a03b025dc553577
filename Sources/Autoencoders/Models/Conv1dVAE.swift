import Autograd
import NN
import TensorCore

/// Left-padded ("causal") `Conv1d → BatchNorm1d → ReLU` (numalogic's `CausalConvBlock`; state `conv.*`,
/// `bnorm.*`). Pads `(k − 1)·dilation` zeros on the left, so output step `t` sees inputs up to `t·stride`.
public final class CausalConvBlock: Layer {
    public let conv: Conv1d
    public let bnorm: BatchNorm1d
    private let relu = ReLU()
    public var isTraining = true

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int, dilation: Int, using rng: inout RandomGenerator) {
        conv = Conv1d(inChannels, outChannels, kernelSize: kernelSize, stride: stride, padding: 0, dilation: dilation, using: &rng)
        bnorm = BatchNorm1d(outChannels)
    }

    public var children: [(String, any Module)] { [("conv", conv), ("bnorm", bnorm), ("relu", relu)] }

    public func callAsFunction(_ x: Variable) -> Variable {
        let pad = (conv.weight.shape[2] - 1) * conv.dilation
        return bnorm(conv(x.padded(axis: 2, before: pad, after: 0))).relu()
    }

    /// `floor((L − 1)/stride) + 1` for kernel 3 with left padding 2·dilation.
    static func outputLength(_ length: Int, stride: Int) -> Int { (length - 1) / stride + 1 }
}

/// numalogic's `Conv1dVAE` with deterministic scoring: `z = μ` whenever the model is not training.
///
/// Encoder: causal conv blocks (kernel 3, stride 2, dilation 2^j) → flatten → `ReLU(Linear(→ latent))` →
/// `μ = Linear`, `s = softplus(Linear)` (numalogic's "logvar"; the posterior variance is `eˢ`).
/// Decoder: `ReLU(Linear(latent → c₀·6))` → `(c₀, 6)` → `ReLU(BN(ConvTranspose1d(c₀ → F, k3, s2, p1, op1)))`
/// (length 12) → `ReLU(Linear(12 → L))` → swap → time-distributed `Linear(F → F)`.
/// Training loss: `criterion(x, x̂, sum) + β·Σ_b Σ_j ½(e^{−s} + μ²e^{−s} − 1 + s)` with `z = μ + e^{s/2}·ε`.
/// Its "mse" is PyTorch's plain MSE (no ½), as in numalogic's BaseVAE.
///
/// Shape: `(B, L, F)` → latent `μ (B, latent)`, reconstruction `(B, L, F)`.
public final class Conv1dVAE: Autoencoder, StochasticModule {
    public let name = "Conv1dVAE"
    public let seqLen: Int, nFeatures: Int
    public let latentDim: Int
    public let convChannels: [Int]
    public let beta: Float
    public let settings: TrainingSettings
    public let convBlocks: [CausalConvBlock]
    public let encoderFC: Linear, mu: Linear, logvar: Linear
    public let decoderFC: Linear, convTranspose: ConvTranspose1d, decoderNorm: BatchNorm1d, fcOut: Linear, tdLinear: Linear
    /// Draws the reparameterisation noise in training.
    public var rng: RandomGenerator
    private let groups: [(String, any Module)]
    public var isTraining = true

    public init(
        seqLen: Int, nFeatures: Int, latentDim: Int, convChannels: [Int] = [16], beta: Float = 0.1,
        settings: TrainingSettings = .vaeDefaults, using rng: inout RandomGenerator
    ) throws(AutoencoderError) {
        guard seqLen >= 1, nFeatures >= 1, latentDim >= 1, !convChannels.isEmpty, convChannels.allSatisfy({ $0 > 0 }) else {
            throw .modelInitialization("seq_len, n_features, latent_dim and conv_channels must be positive")
        }
        guard beta >= 0 && beta.isFinite else { throw .modelInitialization("beta must be non-negative, got \(beta)") }
        (self.seqLen, self.nFeatures, self.latentDim, self.convChannels, self.beta, self.settings) =
            (seqLen, nFeatures, latentDim, convChannels, beta, settings)
        var blocks: [CausalConvBlock] = []
        var length = seqLen
        var previous = nFeatures
        for (j, c) in convChannels.enumerated() {
            blocks.append(CausalConvBlock(previous, c, kernelSize: 3, stride: 2, dilation: j == 0 ? 1 : 1 << j, using: &rng))
            length = CausalConvBlock.outputLength(length, stride: 2)
            previous = c
        }
        convBlocks = blocks
        encoderFC = Linear(previous * length, latentDim, using: &rng)
        mu = Linear(latentDim, latentDim, using: &rng)
        logvar = Linear(latentDim, latentDim, using: &rng)
        decoderFC = Linear(latentDim, convChannels[0] * 6, using: &rng)
        convTranspose = ConvTranspose1d(convChannels[0], nFeatures, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, using: &rng)
        decoderNorm = BatchNorm1d(nFeatures)
        fcOut = Linear(12, seqLen, using: &rng)
        tdLinear = Linear(nFeatures, nFeatures, using: &rng)
        self.rng = rng.fork()
        let convLayers: any Module = blocks.count == 1 ? blocks[0] : Sequential(blocks)
        groups = [
            ("encoder", ModuleGroup([("conv_layers", convLayers), ("fc", encoderFC), ("mu", mu), ("logvar", logvar)])),
            ("decoder", ModuleGroup([("fc", decoderFC), ("conv_tr", convTranspose), ("bnorm", decoderNorm),
                                     ("fc_out", fcOut), ("td_linear", tdLinear)])),
        ]
    }

    public var children: [(String, any Module)] { groups }

    public func reseed(_ seed: UInt64) { rng = RandomGenerator(seed: seed) }

    public var conf: JSONObject {
        var c = JSONObject([("seq_len", .int(Int64(seqLen))), ("n_features", .int(Int64(nFeatures))),
                            ("latent_dim", .int(Int64(latentDim))), ("conv_channels", .ints(convChannels)),
                            ("beta", .double(Double(beta)))])
        for (k, v) in settings.conf where k != "optim_algo" { c[k] = v }
        return c
    }

    /// `(μ, s)` of the posterior for `(B, F, L)` input.
    public func encode(_ x: Variable) -> (mu: Variable, s: Variable) {
        var h = x
        for b in convBlocks { h = b(h) }
        h = encoderFC(h.flattened()).relu()
        return (mu(h), logvar(h).softplus())
    }

    public func decode(_ z: Variable) -> Variable {
        let h = decoderFC(z).relu().reshaped([z.shape[0], convChannels[0], 6])
        let up = decoderNorm(convTranspose(h)).relu()          // (B, F, 12)
        return tdLinear(fcOut(up).relu().transposed(1, 2))    // (B, L, F)
    }

    /// The latent sample: `μ + e^{s/2}·ε` in training, `μ` otherwise.
    func sample(_ mu: Variable, _ s: Variable) -> Variable {
        guard isTraining else { return mu }
        let eps = Tensor.normal(mu.shape, using: &rng)
        return mu + (s * 0.5).exp() * eps
    }

    public func forward(_ x: Variable) -> (latent: Variable, reconstruction: Variable) {
        checkInput(x)
        let (m, s) = encode(x.transposed(1, 2))
        return (m, decode(sample(m, s)))
    }

    public func trainingLoss(_ x: Variable) -> Variable {
        checkInput(x)
        let (m, s) = encode(x.transposed(1, 2))
        let recon = decode(sample(m, s))
        let kld = ((-s).exp() * (m.squared() + 1) - 1 + s).sum() * 0.5
        return settings.lossFn(x, recon, reduction: .sum, halfMSE: false) + kld * beta
    }

    public func validationLoss(_ x: Variable) -> Variable {
        settings.lossFn(x, forward(x).reconstruction, reduction: .sum, halfMSE: false)
    }

    public var halvesMSE: Bool { false }

    public func elementwiseError(_ x: Variable, _ reconstruction: Variable) -> Variable {
        settings.lossFn(x, reconstruction, reduction: .none, halfMSE: halvesMSE)
    }
}
