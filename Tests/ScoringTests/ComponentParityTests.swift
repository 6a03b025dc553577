import Scoring
import Testing
import TestSupport
import TensorCore

/// Transforms, thresholds, aggregators and post-processing against sklearn/numalogic outputs
/// (fixture `scoring/components`, made by Scripts/generate_fixtures.py).
@Suite struct ComponentParityTests {
    static let file = try! Fixtures.load("scoring/components")
    static let config = try! file.jsonMetadata("config").objectValue!

    static var transformCases: [String] { config["transforms"]!.objectValue!.keys }
    static var thresholdCases: [String] { config["thresholds"]!.objectValue!.keys }

    func spec(_ group: String, _ c: String) -> ComponentSpec {
        let o = Self.config[group]!.objectValue![c]!.objectValue!
        return ComponentSpec(name: o["name"]!.stringValue!, conf: o["conf"]!.objectValue!)
    }

    func t(_ name: String) throws -> Tensor { try Self.file.floatTensor(name) }

    @Test(arguments: transformCases)
    func transformMatchesReference(_ c: String) throws {
        var tx = try ComponentFactory.preprocess(spec("transforms", c), path: c)
        let x = try t("x"), y = try t("y")
        expectClose(try tx.fitTransform(x), try t("\(c).fit_transform"), atol: 1e-5, rtol: 1e-5, "\(c) fit_transform")
        expectClose(tx.transform(y), try t("\(c).transform_y"), atol: 1e-5, rtol: 1e-5, "\(c) transform")
        if Self.file.names.contains("\(c).inverse_y") {
            let inv = try #require(tx.inverseTransform(tx.transform(y)))
            expectClose(inv, try t("\(c).inverse_y"), atol: 1e-4, rtol: 1e-5, "\(c) inverse")
        }
        let statNames = Self.file.names.filter { $0.hasPrefix("\(c).stat.") }
        for n in statNames {
            let stat = String(n.dropFirst("\(c).stat.".count))
            let mine = try #require(tx.stats.first { $0.0 == stat }?.1, "\(c) has no statistic \(stat)")
            expectClose(mine, try t(n), atol: 1e-5, rtol: 1e-5, "\(c) stat \(stat)")
        }
        // A transform restored from its statistics behaves like the fitted one.
        var restored = try ComponentFactory.preprocess(spec("transforms", c), path: c)
        try restored.restore(Dictionary(uniqueKeysWithValues: tx.stats), features: 3)
        #expect(restored.transform(y) == tx.transform(y))
        #expect(tx.isStateful == !tx.stats.isEmpty)
    }

    @Test(arguments: thresholdCases)
    func thresholdMatchesReference(_ c: String) throws {
        var th = try ComponentFactory.threshold(spec("thresholds", c), path: c)
        try th.fit(try t("errors"))
        let test = try t("test_errors")
        var scores = th.scoreSamples(test), predicted = th.predict(test)
        let expected = try t("th.\(c).scores")
        if expected.shape[1] == 1 {  // numalogic's Mahalanobis returns one column; AEFlow repeats it per feature
            scores = scores.slice(axis: 1, 0..<1)
            predicted = predicted.slice(axis: 1, 0..<1)
        }
        expectClose(scores, expected, atol: 1e-5, rtol: 1e-5, "\(c) scores")
        #expect(predicted == (try t("th.\(c).predict")), "\(c) predict")
        for n in Self.file.names.filter({ $0.hasPrefix("th.\(c).stat.") }) {
            let stat = String(n.dropFirst("th.\(c).stat.".count))
            let mine = try #require(th.stats.first { $0.0 == stat }?.1 ?? (stat == "threshold" ? Tensor(th.thresholdValues) : nil))
            expectClose(mine, try t(n), atol: 1e-5, rtol: 1e-5, "\(c) stat \(stat)")
        }
        var restored = try ComponentFactory.threshold(spec("thresholds", c), path: c)
        try restored.restore(Dictionary(uniqueKeysWithValues: th.stats), features: 3)
        expectClose(restored.scoreSamples(test), th.scoreSamples(test), atol: 1e-6, rtol: 1e-6, "\(c) restored")
    }

    @Test func aggregatorsAndPostprocessing() throws {
        let seq = try t("agg.seq").scalars
        expectClose(Aggregation.expMovingAverage(beta: 0.6, biasCorrection: true).reduce(seq), try t("agg.expmov").scalar, atol: 1e-5)
        expectClose(Aggregation.expMovingAverage(beta: 0.6, biasCorrection: false).reduce(seq), try t("agg.expmov_nocorr").scalar, atol: 1e-5)
        let ratios = try t("post.ratios").scalars
        expectClose(Tensor(ratios.map(Postprocess.tanhNorm(scaleFactor: 10, smoothFactor: 10).apply)), try t("post.tanh"), atol: 1e-5)
        expectClose(Tensor(ratios.map(Postprocess.sigmoidNorm(scaleFactor: 10, smoothFactor: 0.5).apply)), try t("post.sigmoid"), atol: 1e-5)
        #expect(Aggregation.weightedAverage(weights: [1, 3]).reduce([2, 6]) == 5)
        #expect(Aggregation.weightedAverage(weights: nil).reduce([2, 6]) == 4)
        // numalogic's reference: tanh_norm(arange(10)) sums to ≈ 39.52
        expectClose((0..<10).map { Postprocess.tanhNorm(scaleFactor: 10, smoothFactor: 10).apply(Float($0)) }.reduce(0, +), 39.52, atol: 0.01)
    }
}

@Suite struct ComponentBehaviourTests {
    @Test func staticThresholdHasNoOverwriteBug() throws {
        // numalogic turns every element into the outlier score when inlier_score ≥ upper_limit.
        let th = try StaticThreshold(upperLimit: 0.3, outlierScore: 10, inlierScore: 0.5)
        #expect(th.scoreSamples(Tensor([0.1, 0.29, 0.3, 5])).scalars == [0.5, 0.5, 10, 10])
        #expect(throws: ScoringError.self) { try StaticThreshold(upperLimit: 1, outlierScore: 0.1, inlierScore: 0.5) }
    }

    @Test func mahalanobisHandlesASingularCovariance() throws {
        var th = try MahalanobisThreshold(maxOutlierProb: 0.25)
        #expect(th.k == 2)
        try th.fit(Tensor.ones([10, 3]))  // all-ones: zero covariance, pinv of zeros
        #expect(th.scoreSamples(Tensor.ones([2, 3])).isFinite || th.threshold == 0)
        #expect(throws: ScoringError.self) { try MahalanobisThreshold(maxOutlierProb: 1) }
    }

    @Test func numalogicsDocumentedValues() throws {
        // StdDevThreshold fit on arange(100).reshape(50,2), scored on arange(100,160,6).reshape(5,2)
        var th = StdDevThreshold()
        try th.fit(Tensor.arange(0, 100).reshape(50, 2))
        expectClose(Tensor(th.threshold), Tensor([135.58557, 136.58557]), atol: 1e-3)
        let test = Tensor.arange(100, 160, step: 6).reshape(5, 2)
        expectClose(th.scoreSamples(test).mean().scalar, 0.93317, atol: 1e-4)
        expectClose(th.predict(test).mean().scalar, 0.4, atol: 1e-6)
        // MaxPercentile with p=75 and a floor: a column of tiny values is floored to exactly min_threshold
        var mp = MaxPercentileThreshold(maxInlierPercentile: 75, minThreshold: 1e-3)
        try mp.fit(Tensor(shape: [4, 2], scalars: [1e-5, 1, 2e-5, 2, 3e-5, 3, 4e-5, 4]))
        #expect(mp.threshold[0] == 1e-3)
        // DifferenceTransform of [1,0,1,1,2] → [-1,-1,1,0,1]
        #expect(DifferenceTransform().transform(Tensor([1, 0, 1, 1, 2]).reshape(5, 1)).scalars == [-1, -1, 1, 0, 1])
    }

    @Test func transformsValidateAndReportTheirPaths() {
        func reason(_ name: String, _ conf: [(String, JSONValue)]) -> String? {
            do {
                _ = try ComponentFactory.preprocess(ComponentSpec(name: name, conf: JSONObject(conf)), path: "preprocess[0]")
                return nil
            } catch { return error.description }
        }
        #expect(reason("DataClipper", []) == "preprocess[0]: at least one of lower or upper should be provided")
        #expect(reason("DataClipper", [("lower", .double(5)), ("upper", .double(1))]) == "preprocess[0]: lower value should be less than or equal to upper value")
        #expect(reason("ExpMovingAverage", [("beta", .double(1.5))]) == "preprocess[0]: only accepts values between 0 and 1 (not inclusive)")
        #expect(reason("StandardScaler", [("with_men", .bool(true))])?.hasPrefix("preprocess[0].conf.with_men: unknown key") == true)
        #expect(reason("Whitening", [])?.contains("unknown preprocess \"Whitening\"") == true)
        #expect(reason("StaticPowerTransformer", [])?.contains("preprocess[0].conf.n: is required") == true)
    }

    @Test func tanhScalerOutputsStayInsideTheUnitInterval() throws {
        var s = TanhScaler()
        var rng = RandomGenerator(seed: 1)
        let y = try s.fitTransform(Tensor.normal([200, 2], std: 100, using: &rng))
        #expect(y.min().scalar > 0 && y.max().scalar < 1)
    }

    @Test func noiseAdderIsSeededAndPositive() {
        let a = GaussianNoiseAdder(scale: 1e-3, seed: 7), b = GaussianNoiseAdder(scale: 1e-3, seed: 7)
        let x = Tensor.zeros([5, 2])
        #expect(a.transform(x) == b.transform(x))
        #expect(a.transform(x).min().scalar >= 0)
        #expect(a.transform(x) != a.transform(x))  // the stream persists across calls
    }
}

extension Tensor {
    func reshape(_ dims: Int...) -> Tensor { reshaped(dims) }
}

@Suite struct ElementScoreTests {
    /// The element-wise fast path agrees with `scoreSamples` for every estimator that offers it.
    @Test func elementScoresMatchScoreSamples() throws {
        var rng = RandomGenerator(seed: 3)
        let x = Tensor.uniform([20, 3], low: 0, high: 3, using: &rng)
        var sd = StdDevThreshold(); try sd.fit(x)
        var mp = MaxPercentileThreshold(); try mp.fit(x)
        let models: [any ThresholdModel] = [sd, mp, try StaticThreshold(upperLimit: 1), try SigmoidThreshold(upperLimits: [0.5, 1, 2])]
        for m in models {
            let s = m.scoreSamples(x)
            for r in 0..<20 { for c in 0..<3 { #expect(m.elementScore(x[r, c], column: c) == s[r, c], "\(m.name)") } }
        }
        var mh = try MahalanobisThreshold(); try mh.fit(x)
        #expect((mh as any ThresholdModel).elementScore(1, column: 0) == nil)
    }
}
