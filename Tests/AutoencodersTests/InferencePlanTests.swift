import Autograd
import Autoencoders
import NN
import Testing
import TestSupport
import TensorCore

/// The compiled inference plans against the autograd path (`Autoencoder.reconstruct` in evaluation mode), for
/// every model family at two shapes each, with batches of 1 and 7 windows and non-trivial BatchNorm statistics.
@Suite struct InferencePlanTests {
    static let cases: [(String, String)] = [
        ("VanillaAE", #"{"seq_len": 12, "n_features": 3}"#),
        ("VanillaAE", #"{"seq_len": 7, "n_features": 2, "encoder_layersizes": [9, 5, 3], "decoder_layersizes": [3, 6], "batchnorm": true}"#),
        ("SparseVanillaAE", #"{"seq_len": 10, "n_features": 1}"#),
        ("SparseVanillaAE", #"{"seq_len": 6, "n_features": 4, "encoder_layersizes": [8], "decoder_layersizes": [8], "batchnorm": false}"#),
        ("MultichannelAE", #"{"seq_len": 12, "n_channels": 3}"#),
        ("MultichannelAE", #"{"seq_len": 5, "n_channels": 2, "encoder_layersizes": [4, 2], "decoder_layersizes": [2, 4], "batchnorm": true}"#),
        ("VanillaICAE", #"{"seq_len": 12, "n_channels": 3}"#),
        ("VanillaICAE", #"{"seq_len": 6, "n_channels": 2, "encoder_layersizes": [5, 3], "decoder_layersizes": [3, 5], "batchnorm": true}"#),
        ("Conv1dAE", #"{"seq_len": 12, "in_channels": 3}"#),
        ("Conv1dAE", #"{"seq_len": 16, "in_channels": 2, "enc_channels": [8, 6, 4], "enc_kernel_sizes": [3, 5, 3], "dec_activation": "sigmoid"}"#),
        ("SparseConv1dAE", #"{"seq_len": 8, "in_channels": 1, "enc_channels": [4, 2], "dec_activation": "tanh", "pool_kernel_size": 2}"#),
        ("Conv1dVAE", #"{"seq_len": 12, "n_features": 3, "latent_dim": 4}"#),
        ("Conv1dVAE", #"{"seq_len": 20, "n_features": 2, "latent_dim": 3, "conv_channels": [8, 4, 3]}"#),
        ("Conv1dVAE", #"{"seq_len": 4, "n_features": 1, "latent_dim": 300, "conv_channels": [2]}"#),   // latent wider than any activation
        ("LSTMAE", #"{"seq_len": 12, "no_features": 3, "embedding_dim": 8}"#),
        ("LSTMAE", #"{"seq_len": 5, "no_features": 2, "embedding_dim": 4, "encoder_layers": 2, "decoder_layers": 3}"#),
        ("SparseLSTMAE", #"{"seq_len": 6, "no_features": 1, "embedding_dim": 5}"#),
        ("TransformerAE", #"{"seq_len": 12, "n_features": 3, "num_heads": 2, "dim_feedforward": 32, "num_encoder_layers": 2, "num_decoder_layers": 2}"#),
        ("TransformerAE", #"{"seq_len": 8, "n_features": 1, "num_heads": 3, "dim_feedforward": 16, "num_encoder_layers": 1, "num_decoder_layers": 1}"#),
        ("SparseTransformerAE", #"{"seq_len": 6, "n_features": 2, "num_heads": 1, "dim_feedforward": 2048}"#),
    ]

    /// Running statistics and affine parameters away from their initial 0/1, so that folding them matters.
    static func perturbBatchNorms(_ m: any Module, _ rng: inout RandomGenerator) {
        if let bn = m as? BatchNorm1d {
            let c = bn.numFeatures
            bn.runningMean.tensor = Tensor.uniform([c], low: -0.5, high: 0.5, using: &rng)
            bn.runningVar.tensor = Tensor.uniform([c], low: 0.3, high: 2, using: &rng)
            bn.weight.value = Tensor.uniform([c], low: 0.5, high: 1.5, using: &rng)
            bn.bias.value = Tensor.uniform([c], low: -0.3, high: 0.3, using: &rng)
        }
        for (_, child) in m.children { perturbBatchNorms(child, &rng) }
    }

    @Test(arguments: cases.indices)
    func planAgreesWithAutograd(_ index: Int) throws {
        let (name, conf) = Self.cases[index]
        var rng = RandomGenerator(seed: UInt64(100 + index))
        let model = try ModelFactory.make(ModelSpec(name: name, conf: try #require(JSONValue.parse(conf).objectValue)), using: &rng)
        Self.perturbBatchNorms(model, &rng)
        model.eval()
        let plan = try InferenceCompiler.compile(model)
        let scratch = InferenceScratch()
        for batch in [1, 7] {
            let x = Tensor.uniform([batch, model.seqLen, model.nFeatures], low: -2, high: 2, using: &rng)
            let expected = model.reconstruct(x)
            let got = plan.reconstruct(x, scratch: scratch)
            #expect(got.shape == expected.shape)
            let worst = zip(got.scalars, expected.scalars).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
            #expect(worst <= 1e-5, "\(name) \(conf) batch \(batch): largest difference \(worst)")
        }
    }

    /// The scratch is reused across calls and batch sizes: a smaller batch after a larger one reads nothing stale.
    @Test func scratchReuseAcrossBatchSizes() throws {
        var rng = RandomGenerator(seed: 5)
        let model = try ModelFactory.make(ModelSpec(name: "LSTMAE", conf: try #require(JSONValue.parse(
            #"{"seq_len": 6, "no_features": 2, "embedding_dim": 4, "encoder_layers": 2}"#).objectValue)), using: &rng)
        model.eval()
        let plan = try InferenceCompiler.compile(model)
        let scratch = InferenceScratch()
        let big = Tensor.uniform([9, 6, 2], using: &rng), small = Tensor.uniform([2, 6, 2], using: &rng)
        _ = plan.reconstruct(big, scratch: scratch)
        #expect(plan.reconstruct(small, scratch: scratch) == plan.reconstruct(small, scratch: InferenceScratch()))
    }
}
