import Autoencoders
import NN
import Testing
import TestSupport
import TensorCore
import Training

private func sineData(_ n: Int = 400, seed: UInt64 = 3) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    var v: [Float] = []
    for t in 0..<n {
        v.append(Float(_sin(Double(t) / 8)) + 0.05 * rng.nextNormal())
        v.append(Float(_cos(Double(t) / 5)) + 0.05 * rng.nextNormal())
    }
    return Tensor(shape: [n, 2], scalars: v)
}

private func model(seed: UInt64 = 1) throws -> VanillaAE {
    var rng = RandomGenerator(seed: seed)
    return try VanillaAE(seqLen: 12, nFeatures: 2, using: &rng)
}

final class Recorder: TrainerCallback {
    var started = 0, ended = 0
    var epochs: [EpochMetrics] = []
    func trainingStarted(model: String, windows: Int, maxEpochs: Int) { started += 1 }
    func epochEnded(_ m: EpochMetrics, maxEpochs: Int) { epochs.append(m) }
    func trainingEnded(_ s: TrainingSummary) { ended += 1 }
}

@Suite struct TrainerTests {
    @Test func lossFallsAndCallbacksSeeEveryEpoch() throws {
        let ds = try StreamingDataset(sineData(), seqLen: 12)
        let rec = Recorder()
        let trainer = AutoencoderTrainer(config: TrainerConfig(maxEpochs: 15, batchSize: 32, checkValEveryNEpoch: 5), callbacks: [rec])
        let m = try model()
        let before = trainer.evaluate(m, ds)
        let summary = try trainer.fit(m, train: ds, validation: ds)
        #expect(rec.started == 1 && rec.ended == 1)
        #expect(rec.epochs.map(\.epoch) == Array(1...15))
        #expect(rec.epochs.compactMap(\.valLoss).count == 3)          // epochs 5, 10, 15
        #expect(rec.epochs[4].valLoss != nil && rec.epochs[3].valLoss == nil)
        #expect(summary.finalTrainLoss < rec.epochs[0].trainLoss * 0.5)
        #expect(trainer.evaluate(m, ds) < before * 0.3)
        #expect(!m.isTraining)
    }

    @Test func aSeedMakesARunReproducible() throws {
        let ds = try StreamingDataset(sineData(), seqLen: 12)
        let cfg = TrainerConfig(maxEpochs: 4, batchSize: 16, shuffle: true, seed: 99)
        let a = try model(), b = try model()
        let sa = try AutoencoderTrainer(config: cfg).fit(a, train: ds)
        let sb = try AutoencoderTrainer(config: cfg).fit(b, train: ds)
        #expect(sa.epochs.map(\.trainLoss) == sb.epochs.map(\.trainLoss))
        #expect(a.stateDict() == b.stateDict())
        var other = cfg
        other.seed = 100
        let c = try model()
        let sc = try AutoencoderTrainer(config: other).fit(c, train: ds)
        #expect(sc.epochs.map(\.trainLoss) != sa.epochs.map(\.trainLoss))
    }

    @Test func earlyStoppingStopsAndRestoresTheBestWeights() throws {
        let data = sineData()
        let train = try StreamingDataset(data.slice(axis: 0, 0..<300), seqLen: 12)
        // A validation set unlike the training data, so validation loss soon stops improving.
        let validation = try StreamingDataset(data.slice(axis: 0, 300..<400) * 4 + 3, seqLen: 12)
        let cfg = TrainerConfig(maxEpochs: 200, batchSize: 32, checkValEveryNEpoch: 1,
                                earlyStopping: EarlyStopping(patience: 3, minDelta: 0, restoreBestWeights: true), seed: 1)
        let m = try model()
        let trainer = AutoencoderTrainer(config: cfg)
        let s = try trainer.fit(m, train: train, validation: validation)
        #expect(s.stoppedEarly)
        #expect(s.epochs.count < 200)
        expectClose(trainer.evaluate(m, validation), try #require(s.bestValLoss), rtol: 1e-5)
    }

    @Test func predictGivesPointAndWindowErrors() throws {
        let data = sineData(241)
        let ds = try StreamingDataset(data, seqLen: 12)
        let trainer = AutoencoderTrainer(config: TrainerConfig(maxEpochs: 2))
        let m = try model()
        try trainer.fit(m, train: ds)
        #expect(trainer.predict(m, ds).shape == [241, 2])
        let windows = trainer.predict(m, ds, unbatch: false)
        #expect(windows.shape == [230, 12, 2])
        expectClose(windows.slice(axis: 0, 0..<64), m.reconstructionErrors(ds.batch(0..<64)), atol: 1e-6)
    }

    @Test func badSettingsAndShapesAreTypedErrors() throws {
        let ds = try StreamingDataset(sineData(), seqLen: 12)
        #expect(throws: TrainingError.self) { try AutoencoderTrainer(config: TrainerConfig(maxEpochs: 0)).fit(try model(), train: ds) }
        #expect(throws: TrainingError.self) { try AutoencoderTrainer(config: TrainerConfig(batchSize: 0)).fit(try model(), train: ds) }
        var rng = RandomGenerator(seed: 1)
        let wrong = try VanillaAE(seqLen: 10, nFeatures: 2, using: &rng)
        #expect(throws: TrainingError.self) { try AutoencoderTrainer().fit(wrong, train: ds) }
    }

    @Test func divergenceIsReportedNotSilentlyContinued() throws {
        let ds = try StreamingDataset(sineData() * 1e18, seqLen: 12)
        var rng = RandomGenerator(seed: 1)
        let m = try VanillaAE(seqLen: 12, nFeatures: 2, settings: TrainingSettings(lossFn: .mse, learningRate: 10), using: &rng)
        #expect(throws: TrainingError.self) { try AutoencoderTrainer(config: TrainerConfig(maxEpochs: 50)).fit(m, train: ds) }
    }
}

#if canImport(Glibc)
import Glibc
private func _sin(_ x: Double) -> Double { Glibc.sin(x) }
private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#endif
