import Autograd
import NN
import TensorCore

/// AEFlow's TransformerAE: numalogic's parameter names and shapes with a corrected forward pass
/// (ARCHITECTURE.md §2). The `F` feature series of a window are the tokens, each a vector of the `L`
/// values of that feature (model width `L`).
///
/// * The window is transposed `(B, L, F) → (B, F, L)` (numalogic reinterprets memory with `view`).
/// * The standard sinusoidal encoding of "Attention Is All You Need" is added, token position `f`,
///   width index `l` over the time steps: `PE[f, 2i] = sin(f / 10000^(2i/L))`, `PE[f, 2i+1] = cos(…)`
///   (numalogic's divisor is always 1, so its encoding depends on `f` only).
/// * Encoder and decoder layers as numalogic's (post-norm residual attention and feed-forward); the decoder
///   attends to its input plus PE and to the encoder output.
/// * The output is `decoder.linear` without numalogic's softmax, so scaled data can be reconstructed.
///
/// Shape: `(B, L, F)` → latent (encoder output) `(B, F, L)`, reconstruction `(B, L, F)`.
/// State: `encoder.layers.{i}.*`, `decoder.layers.{i}.*`, `decoder.linear.*`.
public final class TransformerAE: SparseCapable {
    public let name: String
    public let seqLen: Int, nFeatures: Int
    public let numEncoderLayers: Int, numDecoderLayers: Int, numHeads: Int, dimFeedforward: Int
    public let dropoutP: Float
    public let sparsity: SparsityPenalty?
    public let settings: TrainingSettings
    public let encoderLayers: ModuleList<TransformerEncoderLayer>
    public let decoderLayers: ModuleList<TransformerDecoderLayer>
    public let outputLinear: Linear
    public let positionalEncoding: Tensor
    private let groups: [(String, any Module)]
    public var isTraining = true

    public init(
        seqLen: Int = 1, nFeatures: Int = 1, numEncoderLayers: Int = 3, numDecoderLayers: Int = 3, numHeads: Int = 6,
        dimFeedforward: Int = 2048, dropout: Float = 0.1, sparsity: SparsityPenalty? = nil,
        settings: TrainingSettings = TrainingSettings(), using rng: inout RandomGenerator
    ) throws(AutoencoderError) {
        guard seqLen >= 1, nFeatures >= 1, numEncoderLayers >= 1, numDecoderLayers >= 1, numHeads >= 1, dimFeedforward >= 1 else {
            throw .modelInitialization("seq_len, n_features, layer counts, num_heads and dim_feedforward must be positive")
        }
        guard dropout >= 0 && dropout < 1 else { throw .modelInitialization("dropout must be in [0, 1), got \(dropout)") }
        name = sparsity == nil ? "TransformerAE" : "SparseTransformerAE"
        (self.seqLen, self.nFeatures, self.numEncoderLayers, self.numDecoderLayers) = (seqLen, nFeatures, numEncoderLayers, numDecoderLayers)
        (self.numHeads, self.dimFeedforward, self.dropoutP, self.sparsity, self.settings) = (numHeads, dimFeedforward, dropout, sparsity, settings)
        encoderLayers = ModuleList((0..<numEncoderLayers).map { _ in
            TransformerEncoderLayer(dimModel: seqLen, numHeads: numHeads, dimFeedforward: dimFeedforward, dropout: dropout, using: &rng)
        })
        decoderLayers = ModuleList((0..<numDecoderLayers).map { _ in
            TransformerDecoderLayer(dimModel: seqLen, numHeads: numHeads, dimFeedforward: dimFeedforward, dropout: dropout, using: &rng)
        })
        outputLinear = Linear(seqLen, seqLen, using: &rng)
        positionalEncoding = TransformerAE.sinusoidalEncoding(tokens: nFeatures, width: seqLen)
        groups = [("encoder", ModuleGroup([("layers", encoderLayers)])),
                  ("decoder", ModuleGroup([("layers", decoderLayers), ("linear", outputLinear)]))]
        resetParameters(using: &rng)
    }

    /// numalogic's init: xavier-uniform with gain √2 on every Linear weight; biases and LayerNorm default.
    public func resetParameters(using rng: inout RandomGenerator) {
        func visit(_ m: any Module) {
            if let l = m as? Linear { l.weight.value = Initializer.xavierUniform(l.weight.shape, gain: Float(2).squareRoot(), using: &rng) }
            for (_, c) in m.children { visit(c) }
        }
        for (_, g) in groups { visit(g) }
    }

    /// `(tokens, width)` sinusoidal encoding: `sin(pos / 10000^(2i/width))` at even, `cos` at odd width indices.
    public static func sinusoidalEncoding(tokens: Int, width: Int) -> Tensor {
        var pe = [Float](repeating: 0, count: tokens * width)
        for pos in 0..<tokens {
            for l in 0..<width {
                let exponent = Double(2 * (l / 2)) / Double(width)
                let angle = Double(pos) / pow10000(exponent)
                pe[pos * width + l] = Float(l % 2 == 0 ? _sin(angle) : _cos(angle))
            }
        }
        return Tensor(shape: [tokens, width], scalars: pe)
    }

    public var children: [(String, any Module)] { groups }

    public var conf: JSONObject {
        var c = JSONObject([("seq_len", .int(Int64(seqLen))), ("n_features", .int(Int64(nFeatures))),
                            ("num_encoder_layers", .int(Int64(numEncoderLayers))), ("num_decoder_layers", .int(Int64(numDecoderLayers))),
                            ("num_heads", .int(Int64(numHeads))), ("dim_feedforward", .int(Int64(dimFeedforward))),
                            ("dropout", .double(Double(dropoutP)))])
        for (k, v) in (sparsity?.conf ?? []) + settings.conf { c[k] = v }
        return c
    }

    /// The encoder stack on `(B, F, L)` tokens with the positional encoding added.
    public func encode(_ tokens: Variable) -> Variable {
        var h = tokens + positionalEncoding
        for layer in encoderLayers.modules { h = layer(h) }
        return h
    }

    /// The decoder stack: target tokens plus PE, attending to `memory`, then the output projection.
    public func decode(_ tokens: Variable, memory: Variable) -> Variable {
        var t = tokens + positionalEncoding
        for layer in decoderLayers.modules { t = layer(t, memory: memory) }
        return outputLinear(t)
    }

    public func forward(_ x: Variable) -> (latent: Variable, reconstruction: Variable) {
        checkInput(x)
        let tokens = x.transposed(1, 2)
        let memory = encode(tokens)
        return (memory, decode(tokens, memory: memory).transposed(1, 2))
    }
}

#if canImport(Glibc)
import Glibc
private func _sin(_ x: Double) -> Double { Glibc.sin(x) }
private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
private func pow10000(_ e: Double) -> Double { Glibc.pow(10000, e) }
#elseif canImport(Darwin)
import Darwin
private func _sin(_ x: Double) -> Double { Darwin.sin(x) }
private func _cos(_ x: Double) -> Double { Darwin.cos(x) }
private func pow10000(_ e: Double) -> Double { Darwin.pow(10000, e) }
#endif
