import Autoencoders
import Scoring
import Testing
import TensorCore

/// The scoring pipeline's forward pass (compiled plan for small batches, the autograd engine beyond the plan's
/// `largestBatch`) against the autograd engine alone, for a per-window plan and a dense one, with each loss.
@Suite struct CompiledInferenceTests {
    static let cases: [(String, String)] = [
        ("VanillaAE", #"{"seq_len": 6, "n_features": 2, "loss_fn": "huber"}"#),
        ("Conv1dAE", #"{"seq_len": 8, "in_channels": 2, "loss_fn": "l1"}"#),
        ("LSTMAE", #"{"seq_len": 5, "no_features": 2, "embedding_dim": 4, "loss_fn": "mse"}"#),
        ("Conv1dVAE", #"{"seq_len": 12, "n_features": 2, "latent_dim": 3}"#),
    ]

    @Test(arguments: cases.indices)
    func forwardAgreesWithTheEngineBelowAndAboveTheBatchLimit(_ index: Int) throws {
        let (name, conf) = Self.cases[index]
        var rng = RandomGenerator(seed: UInt64(7 + index))
        let model = try ModelFactory.make(ModelSpec(name: name, conf: try #require(JSONValue.parse(conf).objectValue)), using: &rng)
        var threshold = StdDevThreshold()
        try threshold.fit(Tensor.uniform([10, model.nFeatures], low: 0.1, high: 1, using: &rng))
        let pipeline = try ScoringPipeline(model: model, preprocess: [], threshold: threshold, postprocess: nil, score: ScoreConfig(),
                                           metrics: (0..<model.nFeatures).map { "m\($0)" }, stats: ScoreStats())
        let plan = try #require(pipeline.plan, "\(pipeline.inferenceFallback.map { "\($0)" } ?? "")")
        for batch in [1, plan.largestBatch, min(plan.largestBatch + 1, 200)] {
            let x = Tensor.uniform([batch, model.seqLen, model.nFeatures], low: -2, high: 2, using: &rng)
            let compiled = pipeline.forward(x), reference = pipeline.autogradForward(x)
            for (a, b) in [(compiled.reconstruction, reference.reconstruction), (compiled.errors, reference.errors)] {
                let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
                #expect(worst <= 1e-5, "\(name) batch \(batch): \(worst)")
            }
        }
    }
}
