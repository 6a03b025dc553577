import Autograd
import NN
import TensorCore

/// numalogic's `IndependentChannelLinear`: a separate affine map per channel,
/// `y[b, c, :] = x[b, c, :]·W[c] + bias[c, 0, :]`. Note the weight layout `(C, in, out)`, transposed
/// relative to `Linear`.
///
/// Shape: `(B, C, in)` → `(B, C, out)`. State: `weight (C, in, out)`, `bias (C, 1, out)`.
public final class IndependentChannelLinear: Layer {
    public let weight: Variable
    public let bias: Variable
    public var isTraining = true

    public init(_ inFeatures: Int, _ outFeatures: Int, channels: Int, using rng: inout RandomGenerator) {
        weight = Variable(Tensor.zeros([channels, inFeatures, outFeatures]), requiresGrad: true)
        bias = Variable(Tensor.zeros([channels, 1, outFeatures]), requiresGrad: true)
        resetParameters(using: &rng)
    }

    /// PyTorch's kaiming-uniform (a = √5) on the 3-D weight, whose fan-in is `in·out`; the bias uses the same bound.
    public func resetParameters(using rng: inout RandomGenerator) {
        weight.value = Initializer.kaimingUniform(weight.shape, using: &rng)
        let bound = 1 / Float(Initializer.fans(weight.shape).fanIn).squareRoot()
        bias.value = Tensor.uniform(bias.shape, low: -bound, high: bound, using: &rng)
    }

    public var parameters: [(String, Variable)] { [("weight", weight), ("bias", bias)] }

    public func callAsFunction(_ x: Variable) -> Variable {
        precondition(x.rank == 3 && x.shape[1] == weight.shape[0] && x.shape[2] == weight.shape[1],
                     "IndependentChannelLinear\(weight.shape) of input \(x.shape)")
        let perChannel = x.permuted([1, 0, 2])                     // (C, B, in)
        let y = Variable.batchedMatmul(perChannel, weight) + bias  // (C, B, out)
        return y.permuted([1, 0, 2])
    }
}

/// numalogic's `VanillaICAE`: a VanillaAE whose layers act on each channel independently
/// (`IndependentChannelLinear`), with optional per-channel BatchNorm over the 3-D activations.
///
/// Shape: `(B, L, F)` → latent `(B, F, enc[-1])`, reconstruction `(B, L, F)`.
/// State: `encoder.encoder.{i}.*`, `decoder.decoder.{i}.*` (no Flatten, so indices start at 0).
public final class VanillaICAE: Autoencoder {
    public let name = "VanillaICAE"
    public let seqLen: Int, nFeatures: Int
    public let encoderLayerSizes: [Int], decoderLayerSizes: [Int]
    public let dropoutP: Float
    public let batchnorm: Bool
    public let settings: TrainingSettings
    public let encoder: Sequential, decoder: Sequential
    private let groups: [(String, any Module)]
    public var isTraining = true

    public init(
        seqLen: Int, nChannels: Int = 1, encoderLayerSizes: [Int] = [16, 8], decoderLayerSizes: [Int] = [8, 16],
        dropoutP: Float = 0.25, batchnorm: Bool = false, settings: TrainingSettings = TrainingSettings(),
        using rng: inout RandomGenerator
    ) throws(AutoencoderError) {
        try checkMLP(seqLen: seqLen, features: nChannels, encoder: encoderLayerSizes, decoder: decoderLayerSizes, dropout: dropoutP)
        (self.seqLen, self.nFeatures, self.encoderLayerSizes, self.decoderLayerSizes) = (seqLen, nChannels, encoderLayerSizes, decoderLayerSizes)
        (self.dropoutP, self.batchnorm, self.settings) = (dropoutP, batchnorm, settings)
        func block(_ i: Int, _ o: Int, _ rng: inout RandomGenerator) -> [any Layer] {
            var l: [any Layer] = [IndependentChannelLinear(i, o, channels: nChannels, using: &rng)]
            if batchnorm { l.append(BatchNorm1d(nChannels)) }
            return l + [Tanh(), Dropout(dropoutP, using: &rng)]
        }
        var enc: [any Layer] = []
        var previous = seqLen
        for s in encoderLayerSizes {
            enc += block(previous, s, &rng)
            previous = s
        }
        var dec: [any Layer] = []
        for i in 0..<(decoderLayerSizes.count - 1) { dec += block(decoderLayerSizes[i], decoderLayerSizes[i + 1], &rng) }
        dec.append(IndependentChannelLinear(decoderLayerSizes.last!, seqLen, channels: nChannels, using: &rng))
        encoder = Sequential(enc)
        decoder = Sequential(dec)
        groups = [("encoder", ModuleGroup([("encoder", encoder)])), ("decoder", ModuleGroup([("decoder", decoder)]))]
    }

    public var children: [(String, any Module)] { groups }

    public var conf: JSONObject {
        mlpConf(seqLen: seqLen, featuresKey: "n_channels", features: nFeatures, encoder: encoderLayerSizes, decoder: decoderLayerSizes,
                dropout: dropoutP, batchnorm: batchnorm, extra: settings.conf)
    }

    public func forward(_ x: Variable) -> (latent: Variable, reconstruction: Variable) {
        checkInput(x)
        let latent = encoder(x.transposed(1, 2))
        return (latent, decoder(latent).transposed(1, 2))
    }
}
