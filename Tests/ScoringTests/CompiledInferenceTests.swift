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

/// The stacked pass (windows of several keys' models in one pass, each by its own model and preprocess statistics)
/// against each pipeline's own forward pass of its window alone: equal bit for bit, for every family in
/// ``CompiledInferenceTests/cases`` and a mix of per-element preprocess chains.
@Suite struct StackedInferenceTests {
    @Test(arguments: CompiledInferenceTests.cases.indices)
    func eachWindowOfAStackedPassEqualsItsPipelinesOwnPass(_ index: Int) throws {
        let (name, conf) = CompiledInferenceTests.cases[index]
        var rng = RandomGenerator(seed: UInt64(40 + index))
        var pipelines: [ScoringPipeline] = []
        for k in 0..<5 {
            // Same architecture, different weights and statistics (a model per key).
            let model = try ModelFactory.make(ModelSpec(name: name, conf: try #require(JSONValue.parse(conf).objectValue)), using: &rng)
            let f = model.nFeatures
            let fitData = Tensor.uniform([40, f], low: Float(-1 - k), high: Float(1 + 2 * k), using: &rng)
            var standard = StandardScaler(), minMax = MinMaxScaler(), maxAbs = MaxAbsScaler(), robust = RobustScaler()
            try standard.fit(fitData); try minMax.fit(fitData); try maxAbs.fit(fitData); try robust.fit(fitData)
            let chains: [[any PreprocessTransform]] = [[standard], [LogTransformer(addFactor: 3), minMax], [maxAbs], [robust, StaticPowerTransformer(n: 1)], []]
            var threshold = StdDevThreshold()
            try threshold.fit(Tensor.uniform([10, f], low: 0.1, high: 1, using: &rng))
            let p = try ScoringPipeline(model: model, preprocess: chains[k], threshold: threshold, postprocess: nil, score: ScoreConfig(),
                                        metrics: (0..<f).map { "m\($0)" }, stats: ScoreStats())
            #expect(p.stackable, "\(name) with \(chains[k].map(\.name))")
            pipelines.append(p)
        }
        let (l, f) = (pipelines[0].seqLen, pipelines[0].features)
        // Seven windows: some pipelines score two of them, as when a key has two points in a batch.
        let owners = [0, 1, 2, 3, 4, 2, 0]
        let raw = Tensor.uniform([owners.count, l, f], low: -2, high: 2, using: &rng)
        let before = raw.scalars
        let stacked = ScoringPipeline.forward(stacked: owners.map { pipelines[$0] }, raw, scratch: InferenceScratch())
        #expect(raw.scalars == before, "the raw windows are left as they were")
        for (j, o) in owners.enumerated() {
            let alone = pipelines[o].forward(raw.slice(axis: 0, j..<(j + 1)), scratch: InferenceScratch())
            let part = { (t: Tensor) in Array(t.scalars[(j * l * f)..<((j + 1) * l * f)]) }
            #expect(part(stacked.input) == alone.input.scalars, "\(name) window \(j): preprocessed input")
            #expect(part(stacked.reconstruction) == alone.reconstruction.scalars, "\(name) window \(j): reconstruction")
            #expect(part(stacked.errors) == alone.errors.scalars, "\(name) window \(j): errors")
            // The expected values (the newest reconstructed row mapped back per element) equal the tensor inverse.
            var state = KeyScoreState()
            let score = raw.withUnsafeBufferPointer { pipelines[o].score(stacked, index: j, raw: $0.baseAddress! + j * l * f, state: &state) }
            let newest = Tensor(shape: [1, f], scalars: Array(part(stacked.reconstruction).suffix(f)))
            #expect(score.expected == pipelines[o].inverse(newest)?.scalars, "\(name) window \(j): expected values")
            #expect(score.expected != nil)
        }
    }

    /// A chain with a step that looks across rows, or one that draws random numbers, is not stacked.
    @Test func pipelinesWithOtherPreprocessAreNotStacked() throws {
        var rng = RandomGenerator(seed: 3)
        let model = try ModelFactory.make(ModelSpec(name: "VanillaAE", conf: try #require(JSONValue.parse(#"{"seq_len": 6, "n_features": 2}"#).objectValue)),
                                          using: &rng)
        for chain: [any PreprocessTransform] in [[DifferenceTransform()], [GaussianNoiseAdder()], [StandardScaler(), try ExpMovingAverage()]] {
            let p = try ScoringPipeline(model: model, preprocess: chain, threshold: try StaticThreshold(upperLimit: 1), postprocess: nil, score: ScoreConfig(),
                                        metrics: ["a", "b"], stats: ScoreStats())
            #expect(!p.stackable, "\(chain.map(\.name))")
        }
    }
}

/// The per-element maps on edge shapes: no rows, one row as a vector, and rows of one feature.
@Suite struct ElementwiseTransformShapeTests {
    @Test func emptyVectorAndSingleColumnInputsMapLikeTheFormulas() throws {
        var rng = RandomGenerator(seed: 9)
        var scaler = StandardScaler()
        try scaler.fit(Tensor.uniform([10, 3], low: 1, high: 4, using: &rng))
        #expect(scaler.transform(Tensor.zeros([0, 3])).shape == [0, 3])
        #expect(LogTransformer().transform(Tensor.zeros([0, 2])).shape == [0, 2])
        let row = Tensor.uniform([3], low: 1, high: 4, using: &rng)
        let mapped = scaler.transform(row).scalars
        for c in 0..<3 { #expect(mapped[c] == (row.scalars[c] - scaler.mean[c]) / scaler.scale[c]) }
        let column = Tensor.uniform([5, 1], low: 0, high: 2, using: &rng)
        #expect(LogTransformer(addFactor: 2).transform(column).scalars == column.scalars.map { ScalarMath.log($0 + 2) })
        #expect(try #require(LogTransformer(addFactor: 2).inverseTransform(column)).scalars == column.scalars.map { ScalarMath.exp($0) - 2 })
    }
}

/// Scores written into one reused set of ``ScoreBuffers`` (as the scoring engine does, window after window of
/// different keys' pipelines) against each window's fresh score: equal field for field. The pipelines differ in
/// what would leak through stale buffers: metric count (3 and 2), window length, score mode (numalogic's, adaptive,
/// likelihood), post-processing, and whether the chain maps back (expected values present or absent).
@Suite struct ScoreBuffersTests {
    static func pipeline(seqLen: Int, features f: Int, preprocess: [any PreprocessTransform], mode: ScoreConfig.Mode,
                         postprocess: Postprocess?, seed: UInt64) throws -> ScoringPipeline {
        var rng = RandomGenerator(seed: seed)
        let model = try ModelFactory.make(ModelSpec(name: "VanillaAE", conf: JSONObject([("seq_len", .int(Int64(seqLen))), ("n_features", .int(Int64(f)))])), using: &rng)
        var threshold = StdDevThreshold()
        try threshold.fit(Tensor.uniform([10, f], low: 0.1, high: 1, using: &rng))
        var score = ScoreConfig()
        score.mode = mode
        var stats = ScoreStats()
        if mode == .likelihood {
            stats.residualMean = [Float](repeating: 0.1, count: f)
            stats.residualStd = [Float](repeating: 0.5, count: f)
        }
        return try ScoringPipeline(model: model, preprocess: preprocess, threshold: threshold, postprocess: postprocess, score: score,
                                   metrics: (0..<f).map { "m\($0)" }, stats: stats)
    }

    @Test func reusedBuffersScoreLikeFreshOnes() throws {
        var rng = RandomGenerator(seed: 77)
        var scaler = StandardScaler()
        try scaler.fit(Tensor.uniform([30, 3], low: -3, high: 5, using: &rng))
        let pipelines = [
            try Self.pipeline(seqLen: 6, features: 3, preprocess: [scaler], mode: .numalogic, postprocess: .tanhNorm(scaleFactor: 10, smoothFactor: 10), seed: 1),
            try Self.pipeline(seqLen: 4, features: 2, preprocess: [DifferenceTransform()], mode: .adaptive, postprocess: nil, seed: 2),
            try Self.pipeline(seqLen: 6, features: 3, preprocess: [], mode: .numalogic, postprocess: .expMovingAverage(beta: 0.5), seed: 3),
            try Self.pipeline(seqLen: 5, features: 2, preprocess: [LogTransformer(addFactor: 10)], mode: .likelihood, postprocess: nil, seed: 4),
        ]
        #expect(pipelines.map(\.invertible) == [true, false, true, true])
        var buffers = ScoreBuffers()
        var freshStates = [KeyScoreState](repeating: KeyScoreState(), count: pipelines.count), reusedStates = freshStates
        for round in 0..<3 {
            for (k, p) in pipelines.enumerated() {
                let window = Tensor.uniform([1, p.seqLen, p.features], low: -2, high: 6, using: &rng)
                let pass = p.forward(window)
                let fresh = window.withUnsafeBufferPointer { p.score(pass, index: 0, raw: $0.baseAddress!, state: &freshStates[k]) }
                let v = window.withUnsafeBufferPointer { p.score(pass, index: 0, raw: $0.baseAddress!, state: &reusedStates[k], into: &buffers) }
                let what = "round \(round), pipeline \(k)"
                #expect(v.unified == fresh.unified && v.rawUnified == fresh.rawUnified && v.isAnomaly == fresh.isAnomaly, "\(what)")
                #expect(buffers.features == fresh.features && buffers.rawFeatures == fresh.rawFeatures, "\(what)")
                #expect(buffers.newestErrors == fresh.newestErrors && buffers.threshold == fresh.threshold, "\(what)")
                #expect((buffers.expected.isEmpty ? nil : buffers.expected) == fresh.expected, "\(what)")
                #expect(buffers.features.count == p.features, "\(what)")
                if p.score.mode == .numalogic { #expect(buffers.threshold == p.threshold.thresholdValues, "\(what): the model's thresholds") }
            }
        }
    }
}
