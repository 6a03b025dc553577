import Autoencoders
import Foundation
@testable import Scoring
import Testing
import TestSupport
import TensorCore
import Training

/// A one-metric likelihood pipeline with no preprocessing (expected values = reconstructions) whose residual
/// statistics are given, so every step of the likelihood mode can be checked against hand-computed values.
enum Hand {
    static func pipeline(_ configure: (inout ScoreConfig) -> Void, stats: ScoreStats? = nil) throws -> ScoringPipeline {
        var rng = RandomGenerator(seed: 1)
        let model = try ModelFactory.make(ModelSpec(name: "VanillaAE", conf: JSONObject([("seq_len", .int(3)), ("n_features", .int(1))])), using: &rng)
        var threshold = StdDevThreshold()
        try threshold.fit(Tensor(shape: [4, 1], scalars: [1, 2, 3, 4]))
        var score = ScoreConfig()
        score.mode = .likelihood
        score.likelihood.smoothing = 1
        score.likelihood.halflife = 1e6
        score.likelihood.scale = .linear
        score.likelihood.minStd = 0.1
        score.range = nil
        score.follow = nil
        configure(&score)
        var s = ScoreStats()
        s.residualMean = [0.5]
        s.residualStd = [0.2]
        return try ScoringPipeline(model: model, preprocess: [], threshold: threshold, postprocess: nil, score: score, metrics: ["v"],
                                   stats: stats ?? s)
    }

    /// Scores a 3-row window whose newest row has `value` and reconstruction `expected` (older rows exact).
    static func score(_ p: ScoringPipeline, value: Float, expected: Float, state: inout KeyScoreState) -> WindowScore {
        let x: [Float] = [1, 1, value], y: [Float] = [1, 1, expected]
        let e = zip(x, y).map { ($0 - $1) * ($0 - $1) }
        return p.scoreLikelihood(errors: e, input: x, reconstruction: y, raw: x, length: 3, state: &state)
    }
}

@Suite struct LikelihoodTests {
    @Test func tailAndScaleMatchHandComputedValues() {
        expectClose(Float(AnomalyLikelihood.tail(4)), 3.167124183e-5, rtol: 1e-6)
        expectClose(Float(AnomalyLikelihood.tail(0)), 0.5, atol: 1e-7)
        expectClose(AnomalyLikelihood.score(tail: 3.167124183311986e-05), 4.4993335, atol: 1e-5)
        expectClose(AnomalyLikelihood.score(tail: 1e-9), 8.958608, atol: 1e-4)   // 10·ln(1.1e-9)/ln(1e-10)
        #expect(AnomalyLikelihood.score(tail: 1) == 0 && AnomalyLikelihood.score(tail: 0) == 10)
        // Exponentially weighted mean/variance (West): one step of weight 1/2 from (0, 0) with x = 2.
        var (m, v): (Float, Float) = (0, 0)
        AnomalyLikelihood.update(mean: &m, variance: &v, with: 2, weight: 0.5)
        #expect(m == 1 && v == 1)
        expectClose(AnomalyLikelihood.weight(halflife: 1), 0.5, atol: 1e-7)
    }

    @Test func aResidualFourDeviationsAboveTheTrainingLevelScoresItsGaussianTail() throws {
        let p = try Hand.pipeline { _ in }
        var state = KeyScoreState()
        // |1.3| residual against mean 0.5, spread 0.2 (floor 0.1): z = 4, tail 3.1671e-5, score 4.4993.
        let s = Hand.score(p, value: 2.3, expected: 1.0, state: &state)
        expectClose(s.unified, 4.4993335, atol: 1e-4)
        expectClose(s.rawUnified, 3.1671242e-5, rtol: 1e-4)
        #expect(s.expected == [1.0])
        #expect(state.longMean.count == 1 && state.scoredWindows == 1)
    }

    @Test func theLogScaleTakesTheTailOfTheLogLevel() throws {
        let p = try Hand.pipeline { $0.likelihood.scale = .log; $0.likelihood.minStd = 0.01 }
        var state = KeyScoreState()
        // log(1.3 + 0.01) against log(0.5 + 0.01) with spread 0.2 / 0.51: z = 2.4056, tail 0.008073, score 2.0930.
        let s = Hand.score(p, value: 2.3, expected: 1.0, state: &state)
        expectClose(s.unified, 2.0929643, atol: 1e-3)
    }

    @Test func directionIgnoresTheOtherSideAndMinimumDeviationIgnoresSmallOnes() throws {
        // A dip-only metric: a value above its expectation has residual 0, z = (0 − 0.5)/0.2 = −2.5, score 0.0027.
        let dips = try Hand.pipeline { $0.direction = [("*", .dips)] }
        var s1 = KeyScoreState()
        expectClose(Hand.score(dips, value: 2.3, expected: 1.0, state: &s1).unified, 0.0027052, atol: 1e-5)
        // The same deviation downwards counts in full.
        var s2 = KeyScoreState()
        expectClose(Hand.score(dips, value: -0.3, expected: 1.0, state: &s2).unified, 4.4993335, atol: 1e-4)
        let spikes = try Hand.pipeline { $0.direction = [("v", .spikes)] }
        var s3 = KeyScoreState()
        expectClose(Hand.score(spikes, value: -0.3, expected: 1.0, state: &s3).unified, 0.0027052, atol: 1e-5)
        // |2.3 − 1.0| = 1.3 is below a minimum deviation of 1.5 (metric units): not anomalous at all.
        let tolerant = try Hand.pipeline { $0.minDeviation = [("*", 1.5)] }
        var s4 = KeyScoreState()
        expectClose(Hand.score(tolerant, value: 2.3, expected: 1.0, state: &s4).unified, 0.0027052, atol: 1e-5)
    }

    @Test func isAnomalyHoldsAtTheAlertThresholdAndNotBelow() throws {
        let at = try Hand.pipeline { $0.alertThreshold = 4.4993 }
        var s1 = KeyScoreState()
        #expect(Hand.score(at, value: 2.3, expected: 1.0, state: &s1).isAnomaly)
        let above = try Hand.pipeline { $0.alertThreshold = 4.5 }
        var s2 = KeyScoreState()
        #expect(!Hand.score(above, value: 2.3, expected: 1.0, state: &s2).isAnomaly)
        // The default threshold of the likelihood mode is 9 (tail 1e-9); numalogic's mode alarms at its ratio 1.
        #expect(try Hand.pipeline { _ in }.alertThreshold == 9)
        expectClose(ScoreConfig.defaultAlertThreshold(mode: .numalogic, postprocess: .tanhNorm(scaleFactor: 10, smoothFactor: 10)),
                    Float(10 * tanh(0.1)), atol: 1e-6)
    }

    @Test func theRangeRuleAlarmsBeyondTheTrainingRangeAndThenWidens() throws {
        var stats = ScoreStats()
        (stats.residualMean, stats.residualStd, stats.dataMin, stats.dataMax) = ([0.5], [0.2], [0], [10])
        let p = try Hand.pipeline({ $0.range = ScoreConfig.RangeRule(tolerance: 0.05, quantile: 0) }, stats: stats)
        var state = KeyScoreState()
        // 10.4 is within max + 5 % of the width (10.5): only the likelihood counts (residual 0.4: below the mean).
        #expect(!Hand.score(p, value: 10.4, expected: 10.0, state: &state).isAnomaly)
        #expect(state.rangeHigh == [10.4])
        // 11 is beyond 10.4 + 5 % of 10.4 = 10.92: the score is at least the alert threshold, though the residual
        // (0.4) is ordinary.
        let beyond = Hand.score(p, value: 11, expected: 10.6, state: &state)
        #expect(beyond.isAnomaly && beyond.unified == 9)
        #expect(state.rangeHigh == [11])
        // The same value again is inside the widened range.
        #expect(!Hand.score(p, value: 11, expected: 10.6, state: &state).isAnomaly)
        // A retrained model restarts the range from its own training rows.
        state.startModel(carry: true)
        #expect(state.rangeHigh.isEmpty && state.longMean.count == 1)
    }

    @Test func levelFollowingShiftsTheModelsInputByTheKeysRecentLevel() throws {
        var stats = ScoreStats()
        (stats.residualMean, stats.residualStd, stats.dataMean) = ([0.5], [0.2], [10])
        let p = try Hand.pipeline({ $0.follow = ScoreConfig.Follow(halflife: 1) }, stats: stats)
        var state = KeyScoreState()
        var window: [Float] = [20, 20, 20]
        window.withUnsafeMutableBufferPointer { p.shiftForModel(window: $0.baseAddress!, length: 3, state: &state) }
        #expect(window == [20, 20, 20], "the level starts at the training mean: no shift")
        _ = Hand.score(p, value: 20, expected: 20, state: &state)
        // Half-life 1: the level moves halfway, 10 → 15; the model now sees values re-centred by −5.
        #expect(state.level == [15])
        window = [20, 20, 20]
        window.withUnsafeMutableBufferPointer { p.shiftForModel(window: $0.baseAddress!, length: 3, state: &state) }
        #expect(window == [15, 15, 15])
    }

    @Test func scoreConfigReadsTheLikelihoodOptionsAndRefusesThemElsewhere() throws {
        let yaml = try JSONValue.parse(#"{"mode": "likelihood", "alert_threshold": 7, "direction": {"cpu": "spikes"}, "min_deviation": 0.5, "follow": null}"#)
        let s = try ScoreConfig.read(yaml, path: "score")
        #expect(s.mode == .likelihood && s.alertThreshold == 7 && s.follow == nil && s.range == ScoreConfig.RangeRule())
        #expect(ScoreConfig.perMetric(s.direction, metrics: ["cpu", "mem"], fallback: .both) == [.spikes, .both])
        #expect(ScoreConfig.perMetric(s.minDeviation, metrics: ["cpu"], fallback: 0) == [0.5])
        #expect(try ScoreConfig.read(s.json, path: "score") == s, "the checkpoint spec round-trips")
        #expect(throws: ConfigReadError.self) { try ScoreConfig.read(try JSONValue.parse(#"{"direction": "dips"}"#), path: "score") }
        #expect(throws: ConfigReadError.self) { try ScoreConfig.read(try JSONValue.parse(#"{"mode": "likelihood", "direction": "up"}"#), path: "score") }
        let numalogic = try ScoreConfig.read(try JSONValue.parse("{}"), path: "score")
        #expect(numalogic.mode == .numalogic && numalogic.range == nil && numalogic.follow == nil)
    }
}


@Suite struct TrainingScheduleTests {
    @Test func firstModelGrowthAndAge() {
        let s = TrainingSchedule(minTrainSize: 200, trainHours: 720, retrainFreqHr: 24, retrainGrowth: 2)
        #expect(s.due(rows: 199, now: 0, last: nil) == nil)
        #expect(s.due(rows: 200, now: 0, last: nil) == .first)
        let last = TrainingSchedule.LastTraining(at: 0, rows: 200)
        #expect(s.due(rows: 399, now: 3_600_000, last: last) == nil)
        #expect(s.due(rows: 400, now: 3_600_000, last: last) == .growth)
        #expect(s.due(rows: 250, now: 24 * 3_600_000, last: last) == .age)
        let noGrowth = TrainingSchedule(minTrainSize: 200, trainHours: 720, retrainFreqHr: 24, retrainGrowth: 0)
        #expect(noGrowth.due(rows: 10_000, now: 3_600_000, last: last) == nil)
    }

    @Test func configValidationKnowsWhenTrainHoursCannotHoldTheFirstModel() throws {
        var t = TrainerConf()
        (t.trainHours, t.dataFreqSec, t.minTrainSize) = (192, 1800, 2000)
        #expect(t.unreachableTrainSize == 385)
        t.minTrainSize = 200
        #expect(t.unreachableTrainSize == nil)
        #expect(throws: ConfigReadError.self) { try TrainerConf.read(try JSONValue.parse(#"{"retrain_growth": 1}"#), path: "trainer") }
    }
}

