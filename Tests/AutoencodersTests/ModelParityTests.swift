import Autograd
import Autoencoders
import Foundation
import NN
import Testing
import TestSupport
import TensorCore

/// Every model against numalogic 0.13.2 itself: its state dict loads by name, and the reconstruction,
/// latent and element-wise errors agree within 1e-5 (fixtures from Scripts/generate_fixtures.py).
@Suite struct ModelParityTests {
    static let names = ModelFactory.names

    func load(_ name: String) throws -> (SafeTensorsFile, any Autoencoder) {
        let file = try Fixtures.load("models/\(name)")
        let config = try #require(file.jsonMetadata("config").objectValue)
        let conf = try #require(config["conf"]?.objectValue)
        var rng = RandomGenerator(seed: 1)
        let model = try ModelFactory.make(ModelSpec(name: name, conf: conf), using: &rng)
        try model.loadStateDict(try StateDict(file).stripping(prefix: "param."))
        return (file, model)
    }

    @Test(arguments: names)
    func reconstructionMatchesNumalogic(_ name: String) throws {
        let (file, model) = try load(name)
        let x = try file.floatTensor("input.x")
        model.eval()
        let (latent, recon) = withNoGrad { model.forward(Variable(x)) }
        #expect(recon.shape == x.shape)
        expectClose(recon.value, try file.floatTensor("output.reconstruction"), atol: 1e-5, "\(name) reconstruction")
        expectClose(latent.value, try file.floatTensor("output.latent"), atol: 1e-5, "\(name) latent")
        expectClose(model.reconstructionErrors(x), try file.floatTensor("output.error"), atol: 1e-5, "\(name) errors")
    }

    @Test(arguments: names)
    func stateDictListingsEqualNumalogicsAtTwoConfigurations(_ name: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("models/listings.json")))
        let listings = try #require(JSONValue.parse([UInt8](data)).objectValue)
        let mine = listings.keys.filter { $0.hasPrefix(name + " ") }
        #expect(mine.count == 2)
        for key in mine {
            let conf = try #require(JSONValue.parse(String(key.dropFirst(name.count + 1))).objectValue)
            var rng = RandomGenerator(seed: 2)
            let model = try ModelFactory.make(ModelSpec(name: name, conf: conf), using: &rng)
            let expected = try #require(listings[key]?.arrayValue).map { entry -> String in
                let pair = entry.arrayValue!
                let dims = pair[1].arrayValue!.map { String($0.intValue!) }.joined(separator: ", ")
                return "\(pair[0].stringValue!) [\(dims)]"
            }
            #expect(model.stateDict().listing == expected, "\(key)")
        }
    }

    /// The size guard's estimate, from the conf alone, is at least the model's real size (parameters and
    /// buffers) and at most twice it plus a little, for every model at both fixture configurations.
    @Test(arguments: ModelFactory.names)
    func theSizeEstimateBoundsEveryModel(_ name: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("models/listings.json")))
        let listings = try #require(JSONValue.parse([UInt8](data)).objectValue)
        for key in listings.keys where key.hasPrefix(name + " ") {
            let conf = try #require(JSONValue.parse(String(key.dropFirst(name.count + 1))).objectValue)
            var rng = RandomGenerator(seed: 2)
            let spec = ModelSpec(name: name, conf: conf)
            let model = try ModelFactory.make(spec, using: &rng)
            let actual = model.stateDict().elementCount
            let estimate = try ModelFactory.estimatedElements(spec)
            #expect(estimate >= actual && estimate <= 2 * actual + 20_000, "\(key): estimate \(estimate), actual \(actual)")
        }
    }

    /// Sizes from outside are bounded before anything is allocated: 10^12 or 2^62 anywhere is a typed error.
    @Test func hugeSizesAreRefusedBeforeAllocation() throws {
        var rng = RandomGenerator(seed: 1)
        for (name, conf) in [("VanillaAE", #"{"seq_len": 1000000000000, "n_features": 1}"#),
                             ("VanillaAE", #"{"seq_len": 12, "n_features": 4611686018427387904}"#),
                             ("VanillaAE", #"{"seq_len": 12, "n_features": 1, "encoder_layersizes": [1000000, 1000000], "decoder_layersizes": [1000000, 16]}"#),
                             ("LSTMAE", #"{"seq_len": 12, "no_features": 1, "embedding_dim": 100000}"#),
                             ("TransformerAE", #"{"seq_len": 60000, "n_features": 2}"#),
                             ("Conv1dAE", #"{"seq_len": 12, "in_channels": 1, "enc_channels": [65536, 65536]}"#),
                             ("Conv1dVAE", #"{"seq_len": 12, "n_features": 1, "latent_dim": 1000000}"#)] {
            let spec = ModelSpec(name: name, conf: try #require(JSONValue.parse(conf).objectValue))
            #expect(throws: AutoencoderError.self, "\(name) \(conf)") { _ = try ModelFactory.make(spec, using: &rng) }
        }
        // A tighter limit (a checkpoint's own tensors) refuses a spec that asks for more than the file holds.
        let small = ModelSpec(name: "VanillaAE", conf: try #require(JSONValue.parse(#"{"seq_len": 12, "n_features": 1}"#).objectValue))
        #expect(throws: AutoencoderError.self) { _ = try ModelFactory.make(small, using: &rng, limit: 100) }
        _ = try ModelFactory.make(small, using: &rng)
    }

    /// The Transformer's encoder and decoder layers against numalogic's `_EncoderLayer`/`_DecoderLayer`
    /// (forward and every gradient), the corrected full model being covered by the parity test above.
    @Test func transformerBlocksMatchNumalogicLayers() throws {
        var rng = RandomGenerator(seed: 3)
        let enc = try LayerFixture("models/transformer_encoder_layer")
        let e = TransformerEncoderLayer(dimModel: 12, numHeads: 3, dimFeedforward: 16, dropout: 0.1, using: &rng)
        try enc.check(e) { ["y": e($0["x"]!)] }
        let dec = try LayerFixture("models/transformer_decoder_layer")
        let d = TransformerDecoderLayer(dimModel: 12, numHeads: 3, dimFeedforward: 16, dropout: 0.1, using: &rng)
        try dec.check(d) { ["y": d($0["tgt"]!, memory: $0["memory"]!)] }
    }
}
