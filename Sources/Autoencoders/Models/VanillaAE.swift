import Autograd
import NN
import TensorCore

/// numalogic's fully connected autoencoder (`VanillaAE`) and its sparse variant (`SparseVanillaAE`).
///
/// The window is swapped to `(B, F, L)` and flattened feature-major (`f·L + l`). Encoder blocks are
/// `Linear → [BatchNorm1d] → Tanh → Dropout` for every size in `encoderLayerSizes`; the sparse variant ends
/// its encoder with `Linear → [BatchNorm1d] → ReLU` instead. The decoder repeats the block over consecutive
/// `decoderLayerSizes` and ends with `Linear(dec[-1] → F·L)` and an unflatten to `(B, F, L)`.
///
/// Shape: `(B, L, F)` → latent `(B, enc[-1])`, reconstruction `(B, L, F)`.
/// State: `encoder.encoder.{i}.*` (index 0 is the Flatten), `decoder.decoder.{i}.*`.
public final class VanillaAE: SparseCapable {
    public let name: String
    public let seqLen: Int, nFeatures: Int
    public let encoderLayerSizes: [Int], decoderLayerSizes: [Int]
    public let dropoutP: Float
    public let batchnorm: Bool
    public let sparsity: SparsityPenalty?
    public let settings: TrainingSettings
    public let encoder: Sequential, decoder: Sequential
    private let groups: [(String, any Module)]
    public var isTraining = true

    /// `sparsity` non-nil builds `SparseVanillaAE` (whose numalogic default for `batchnorm` is true).
    public init(
        seqLen: Int, nFeatures: Int = 1, encoderLayerSizes: [Int] = [16, 8], decoderLayerSizes: [Int] = [8, 16],
        dropoutP: Float = 0.25, batchnorm: Bool = false, sparsity: SparsityPenalty? = nil,
        settings: TrainingSettings = TrainingSettings(), using rng: inout RandomGenerator
    ) throws(AutoencoderError) {
        try checkMLP(seqLen: seqLen, features: nFeatures, encoder: encoderLayerSizes, decoder: decoderLayerSizes, dropout: dropoutP)
        name = sparsity == nil ? "VanillaAE" : "SparseVanillaAE"
        (self.seqLen, self.nFeatures, self.encoderLayerSizes, self.decoderLayerSizes) = (seqLen, nFeatures, encoderLayerSizes, decoderLayerSizes)
        (self.dropoutP, self.batchnorm, self.sparsity, self.settings) = (dropoutP, batchnorm, sparsity, settings)
        encoder = Sequential([Flatten()] + mlpEncoderLayers(inputSize: seqLen * nFeatures, sizes: encoderLayerSizes,
                                                          dropout: dropoutP, batchnorm: batchnorm, reluLast: sparsity != nil, using: &rng))
        decoder = Sequential(mlpDecoderLayers(sizes: decoderLayerSizes, outputSize: seqLen * nFeatures, dropout: dropoutP,
                                              batchnorm: batchnorm, using: &rng) + [Unflatten(dim: -1, sizes: [nFeatures, seqLen])])
        groups = [("encoder", ModuleGroup([("encoder", encoder)])), ("decoder", ModuleGroup([("decoder", decoder)]))]
        resetParameters(using: &rng)
    }

    /// numalogic's init: xavier-normal Linear weights; the sparse variant rebuilds its encoder after this
    /// step, so there only the decoder is re-initialised and the encoder keeps PyTorch's defaults.
    public func resetParameters(using rng: inout RandomGenerator) {
        xavierNormalLinearWeights(sparsity == nil ? [encoder, decoder] : [decoder], using: &rng)
    }

    public var children: [(String, any Module)] { groups }

    public var conf: JSONObject {
        mlpConf(seqLen: seqLen, featuresKey: "n_features", features: nFeatures, encoder: encoderLayerSizes, decoder: decoderLayerSizes,
                dropout: dropoutP, batchnorm: batchnorm, extra: (sparsity?.conf ?? []) + settings.conf)
    }

    public func forward(_ x: Variable) -> (latent: Variable, reconstruction: Variable) {
        checkInput(x)
        let latent = encoder(x.transposed(1, 2))
        return (latent, decoder(latent).transposed(1, 2))
    }
}

/// Validates the sizes shared by the fully connected models.
func checkMLP(seqLen: Int, features: Int, encoder: [Int], decoder: [Int], dropout: Float) throws(AutoencoderError) {
    guard seqLen >= 1, features >= 1 else {
        throw .modelInitialization("seq_len and the feature count must be positive, got \(seqLen) and \(features)")
    }
    guard !encoder.isEmpty, !decoder.isEmpty, (encoder + decoder).allSatisfy({ $0 > 0 }) else {
        throw .modelInitialization("layer sizes must be non-empty lists of positive integers, got \(encoder) and \(decoder)")
    }
    guard encoder.last == decoder.first else { throw .layerSizeMismatch(encoderLast: encoder.last!, decoderFirst: decoder.first!) }
    guard dropout >= 0 && dropout < 1 else { throw .modelInitialization("dropout_p must be in [0, 1), got \(dropout)") }
}

/// `Linear → [BN] → Tanh → Dropout` per size; with `reluLast` the final block is `Linear → [BN] → ReLU`.
func mlpEncoderLayers(inputSize: Int, sizes: [Int], dropout: Float, batchnorm: Bool, reluLast: Bool,
                      using rng: inout RandomGenerator) -> [any Layer] {
    var layers: [any Layer] = []
    var previous = inputSize
    for (i, size) in sizes.enumerated() {
        layers.append(Linear(previous, size, using: &rng))
        if batchnorm { layers.append(BatchNorm1d(size)) }
        if reluLast && i == sizes.count - 1 {
            layers.append(ReLU())
        } else {
            layers += [Tanh(), Dropout(dropout, using: &rng)] as [any Layer]
        }
        previous = size
    }
    return layers
}

/// `Linear → [BN] → Tanh → Dropout` over consecutive sizes, then `Linear(sizes.last → outputSize)`.
func mlpDecoderLayers(sizes: [Int], outputSize: Int, dropout: Float, batchnorm: Bool, using rng: inout RandomGenerator) -> [any Layer] {
    var layers: [any Layer] = []
    for i in 0..<(sizes.count - 1) {
        layers.append(Linear(sizes[i], sizes[i + 1], using: &rng))
        if batchnorm { layers.append(BatchNorm1d(sizes[i + 1])) }
        layers += [Tanh(), Dropout(dropout, using: &rng)] as [any Layer]
    }
    layers.append(Linear(sizes.last!, outputSize, using: &rng))
    return layers
}

/// Xavier-normal (gain 1) on the weight of every `Linear` inside `modules` (numalogic's `init_weights`).
func xavierNormalLinearWeights(_ modules: [any Module], gain: Float = 1, using rng: inout RandomGenerator) {
    for m in modules {
        if let lin = m as? Linear { lin.weight.value = Initializer.xavierNormal(lin.weight.shape, gain: gain, using: &rng) }
        xavierNormalLinearWeights(m.children.map(\.1), gain: gain, using: &rng)
    }
}
