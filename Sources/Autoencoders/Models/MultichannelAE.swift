import Autograd
import NN
import TensorCore

/// numalogic's `MultichannelAE`: one independent VanillaAE-style encoder/decoder per channel (feature).
///
/// Channel `i` sees its own series `(B, L)`; latents are stacked on a new last axis.
/// Shape: `(B, L, F)` → latent `(B, enc[-1], F)`, reconstruction `(B, L, F)`.
/// State: `channel_encoder{i}.encoder.*`, `channel_decoder{i}.decoder.*`, interleaved per channel.
public final class MultichannelAE: Autoencoder {
    public let name = "MultichannelAE"
    public let seqLen: Int, nFeatures: Int
    public let encoderLayerSizes: [Int], decoderLayerSizes: [Int]
    public let dropoutP: Float
    public let batchnorm: Bool
    public let settings: TrainingSettings
    public let encoders: [Sequential], decoders: [Sequential]
    private let groups: [(String, any Module)]
    public var isTraining = true

    public init(
        seqLen: Int, nChannels: Int, encoderLayerSizes: [Int] = [16, 8], decoderLayerSizes: [Int] = [8, 16],
        dropoutP: Float = 0.25, batchnorm: Bool = false, settings: TrainingSettings = TrainingSettings(),
        using rng: inout RandomGenerator
    ) throws(AutoencoderError) {
        try checkMLP(seqLen: seqLen, features: nChannels, encoder: encoderLayerSizes, decoder: decoderLayerSizes, dropout: dropoutP)
        (self.seqLen, self.nFeatures, self.encoderLayerSizes, self.decoderLayerSizes) = (seqLen, nChannels, encoderLayerSizes, decoderLayerSizes)
        (self.dropoutP, self.batchnorm, self.settings) = (dropoutP, batchnorm, settings)
        var enc: [Sequential] = [], dec: [Sequential] = [], g: [(String, any Module)] = []
        for i in 0..<nChannels {
            let e = Sequential([Flatten()] + mlpEncoderLayers(inputSize: seqLen, sizes: encoderLayerSizes, dropout: dropoutP,
                                                              batchnorm: batchnorm, reluLast: false, using: &rng))
            let d = Sequential(mlpDecoderLayers(sizes: decoderLayerSizes, outputSize: seqLen, dropout: dropoutP,
                                                batchnorm: batchnorm, using: &rng) + [Unflatten(dim: -1, sizes: [1, seqLen])])
            xavierNormalLinearWeights([e, d], using: &rng)
            enc.append(e)
            dec.append(d)
            g += [("channel_encoder\(i)", ModuleGroup([("encoder", e)])), ("channel_decoder\(i)", ModuleGroup([("decoder", d)]))]
        }
        (encoders, decoders, groups) = (enc, dec, g)
    }

    public var children: [(String, any Module)] { groups }

    public var conf: JSONObject {
        mlpConf(seqLen: seqLen, featuresKey: "n_channels", features: nFeatures, encoder: encoderLayerSizes, decoder: decoderLayerSizes,
                dropout: dropoutP, batchnorm: batchnorm, extra: settings.conf)
    }

    public func forward(_ x: Variable) -> (latent: Variable, reconstruction: Variable) {
        checkInput(x)
        let channels = x.transposed(1, 2)  // (B, F, L)
        var latents: [Variable] = [], recons: [Variable] = []
        for i in 0..<nFeatures {
            let latent = encoders[i](channels.slice(axis: 1, i..<(i + 1)))   // (B, enc)
            latents.append(latent)
            recons.append(decoders[i](latent).reshaped([x.shape[0], seqLen]))  // (B, 1, L) → (B, L)
        }
        return (Variable.stack(latents, axis: -1), Variable.stack(recons, axis: -1))
    }
}
