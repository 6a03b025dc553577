import Autograd
import NN
import TensorCore

/// numalogic's `LSTMAE` and `SparseLSTMAE`.
///
/// Encoder: `LSTM(F → E, encoder_layers)`; the latent is the last layer's final hidden state. Decoder: the
/// latent repeated over the `L` steps through `LSTM(E → E, decoder_layers)` and a per-step `Linear(E → F)`.
///
/// Shape: `(B, L, F)` → latent `(B, E)`, reconstruction `(B, L, F)`.
/// State: `encoder.lstm.*_l{k}`, `decoder.lstm.*_l{k}`, `decoder.fc.*`.
public final class LSTMAE: SparseCapable {
    public let name: String
    public let seqLen: Int, nFeatures: Int
    public let embeddingDim: Int, encoderLayers: Int, decoderLayers: Int
    public let sparsity: SparsityPenalty?
    public let settings: TrainingSettings
    public let encoderLSTM: LSTM, decoderLSTM: LSTM
    public let fc: Linear
    private let groups: [(String, any Module)]
    public var isTraining = true

    public init(
        seqLen: Int, noFeatures: Int, embeddingDim: Int, encoderLayers: Int = 1, decoderLayers: Int = 1,
        sparsity: SparsityPenalty? = nil, settings: TrainingSettings = TrainingSettings(), using rng: inout RandomGenerator
    ) throws(AutoencoderError) {
        guard seqLen >= 1, noFeatures >= 1, embeddingDim >= 1, encoderLayers >= 1, decoderLayers >= 1 else {
            throw .modelInitialization("seq_len, no_features, embedding_dim and layer counts must be positive")
        }
        name = sparsity == nil ? "LSTMAE" : "SparseLSTMAE"
        (self.seqLen, self.nFeatures, self.embeddingDim) = (seqLen, noFeatures, embeddingDim)
        (self.encoderLayers, self.decoderLayers, self.sparsity, self.settings) = (encoderLayers, decoderLayers, sparsity, settings)
        encoderLSTM = LSTM(inputSize: noFeatures, hiddenSize: embeddingDim, numLayers: encoderLayers, using: &rng)
        decoderLSTM = LSTM(inputSize: embeddingDim, hiddenSize: embeddingDim, numLayers: decoderLayers, using: &rng)
        fc = Linear(embeddingDim, noFeatures, using: &rng)
        groups = [("encoder", ModuleGroup([("lstm", encoderLSTM)])), ("decoder", ModuleGroup([("lstm", decoderLSTM), ("fc", fc)]))]
        resetParameters(using: &rng)
    }

    /// numalogic's init: biases zero, every other parameter xavier-normal with the tanh gain 5/3.
    public func resetParameters(using rng: inout RandomGenerator) {
        for (n, p) in namedParameters() {
            p.value = n.contains("bias") ? Tensor.zeros(p.shape)
                : Initializer.xavierNormal(p.shape, gain: Initializer.Nonlinearity.tanh.gain, using: &rng)
        }
    }

    public var children: [(String, any Module)] { groups }

    public var conf: JSONObject {
        var c = JSONObject([("seq_len", .int(Int64(seqLen))), ("no_features", .int(Int64(nFeatures))),
                            ("embedding_dim", .int(Int64(embeddingDim))), ("encoder_layers", .int(Int64(encoderLayers))),
                            ("decoder_layers", .int(Int64(decoderLayers)))])
        for (k, v) in (sparsity?.conf ?? []) + settings.conf { c[k] = v }
        return c
    }

    public func forward(_ x: Variable) -> (latent: Variable, reconstruction: Variable) {
        checkInput(x)
        let batch = x.shape[0]
        let h = encoderLSTM(x).h
        let latent = h.slice(axis: 0, (encoderLayers - 1)..<encoderLayers).reshaped([batch, embeddingDim])
        // numalogic repeats the latent over the steps; the LSTM takes it repeated without materialising it.
        return (latent, fc(decoderLSTM(repeating: latent, steps: seqLen).output))
    }
}
