import Autograd
import Autoencoders
import NN
import Testing
import TestSupport
import TensorCore

/// End-to-end gradient checks of each model's training objective with respect to every parameter, on
/// small configurations (dropout off so the objective is deterministic; BatchNorm in training mode).
@Suite struct ModelGradientTests {
    static let cases: [(String, [(String, JSONValue)])] = [
        ("VanillaAE", [("seq_len", .int(4)), ("n_features", .int(2)), ("encoder_layersizes", .ints([3, 2])), ("decoder_layersizes", .ints([2, 3])), ("dropout_p", .double(0)), ("batchnorm", .bool(true))]),
        ("SparseVanillaAE", [("seq_len", .int(4)), ("n_features", .int(1)), ("encoder_layersizes", .ints([3])), ("decoder_layersizes", .ints([3])), ("dropout_p", .double(0)), ("beta", .double(0.5))]),
        ("MultichannelAE", [("seq_len", .int(4)), ("n_channels", .int(2)), ("encoder_layersizes", .ints([3, 2])), ("decoder_layersizes", .ints([2, 3])), ("dropout_p", .double(0))]),
        ("VanillaICAE", [("seq_len", .int(4)), ("n_channels", .int(2)), ("encoder_layersizes", .ints([3, 2])), ("decoder_layersizes", .ints([2, 3])), ("dropout_p", .double(0)), ("batchnorm", .bool(true))]),
        ("Conv1dAE", [("seq_len", .int(4)), ("in_channels", .int(2)), ("enc_channels", .ints([3, 2])), ("loss_fn", .string("mse"))]),
        ("LSTMAE", [("seq_len", .int(3)), ("no_features", .int(2)), ("embedding_dim", .int(2)), ("encoder_layers", .int(2))]),
        ("TransformerAE", [("seq_len", .int(4)), ("n_features", .int(2)), ("num_encoder_layers", .int(1)), ("num_decoder_layers", .int(1)), ("num_heads", .int(2)), ("dim_feedforward", .int(3)), ("dropout", .double(0))]),
    ]

    @Test(arguments: cases.map(\.0))
    func trainingObjectiveGradients(_ name: String) throws {
        let conf = Self.cases.first { $0.0 == name }!.1
        var rng = RandomGenerator(seed: 9)
        let model = try ModelFactory.make(ModelSpec(name: name, conf: JSONObject(conf)), using: &rng)
        let x = Variable(Tensor.uniform([3, model.seqLen, model.nFeatures], low: -1, high: 1, using: &rng))
        gradCheck(leaves: model.trainableParameters, eps: 3e-3, atol: 3e-3, name) { model.trainingLoss(x) }
    }

    @Test func vaeIsDeterministicWhenScoringAndStochasticInTraining() throws {
        var rng = RandomGenerator(seed: 10)
        let vae = try Conv1dVAE(seqLen: 12, nFeatures: 2, latentDim: 3, using: &rng)
        let x = Tensor.uniform([4, 12, 2], using: &rng)
        #expect(vae.reconstructionErrors(x) == vae.reconstructionErrors(x))
        vae.train()
        let a = vae.forward(Variable(x)).reconstruction.value, b = vae.forward(Variable(x)).reconstruction.value
        #expect(a != b)
        #expect(vae.trainingLoss(Variable(x)).value.isFinite)
    }
}
