import Autoencoders
import Autograd
import NN
import Optim
import TensorCore

#if canImport(Glibc)
import Glibc
import SystemCalls
#endif

/// Early stopping on the validation loss (checked every `checkValEveryNEpoch` epochs).
public struct EarlyStopping: Equatable, Sendable {
    /// Validation checks without an improvement of more than `minDelta` before training stops.
    public var patience: Int
    public var minDelta: Float
    /// Restore the weights of the best validation check when training ends.
    public var restoreBestWeights: Bool

    public init(patience: Int = 3, minDelta: Float = 0, restoreBestWeights: Bool = true) {
        (self.patience, self.minDelta, self.restoreBestWeights) = (patience, minDelta, restoreBestWeights)
    }
}

/// numalogic's trainer settings (`pltrainer_conf`) plus AEFlow's shuffling, early stopping and seed.
public struct TrainerConfig: Equatable, Sendable {
    public var maxEpochs: Int
    public var batchSize: Int
    /// Shuffle the training windows every epoch (numalogic never shuffles).
    public var shuffle: Bool
    /// Validate every n epochs (numalogic's `check_val_every_n_epoch`, default 5) and after the last.
    public var checkValEveryNEpoch: Int
    public var earlyStopping: EarlyStopping?
    /// Makes shuffling and dropout/VAE sampling reproducible (with the model's initial weights).
    public var seed: UInt64?
    /// How often plain progress lines are written when not on a terminal (numalogic's `log_freq`).
    public var logEveryNEpochs: Int

    public init(maxEpochs: Int = 50, batchSize: Int = 64, shuffle: Bool = false, checkValEveryNEpoch: Int = 5,
                earlyStopping: EarlyStopping? = nil, seed: UInt64? = nil, logEveryNEpochs: Int = 5) {
        (self.maxEpochs, self.batchSize, self.shuffle, self.checkValEveryNEpoch) = (maxEpochs, batchSize, shuffle, checkValEveryNEpoch)
        (self.earlyStopping, self.seed, self.logEveryNEpochs) = (earlyStopping, seed, logEveryNEpochs)
    }

    func validate() throws(TrainingError) {
        guard maxEpochs >= 1 else { throw .invalidSetting("max_epochs must be at least 1, got \(maxEpochs)") }
        guard batchSize >= 1 else { throw .invalidSetting("batch_size must be at least 1, got \(batchSize)") }
        guard checkValEveryNEpoch >= 1 else { throw .invalidSetting("check_val_every_n_epoch must be at least 1, got \(checkValEveryNEpoch)") }
        guard logEveryNEpochs >= 1 else { throw .invalidSetting("log_freq must be at least 1, got \(logEveryNEpochs)") }
        if let e = earlyStopping, e.patience < 1 || e.minDelta < 0 {
            throw .invalidSetting("early stopping needs patience ≥ 1 and min_delta ≥ 0")
        }
    }
}

/// What one epoch did: mean training loss over its windows, and the validation loss when checked.
public struct EpochMetrics: Equatable, Sendable {
    public let epoch: Int          // 1-based
    public let trainLoss: Float
    public let valLoss: Float?
    public let seconds: Double
    public let batches: Int

    public init(epoch: Int, trainLoss: Float, valLoss: Float?, seconds: Double, batches: Int) {
        (self.epoch, self.trainLoss, self.valLoss, self.seconds, self.batches) = (epoch, trainLoss, valLoss, seconds, batches)
    }
}

/// The outcome of ``AutoencoderTrainer/fit(_:train:validation:)``.
public struct TrainingSummary: Equatable, Sendable {
    public let epochs: [EpochMetrics]
    public let windows: Int
    public let stoppedEarly: Bool
    public let bestValLoss: Float?
    public let seconds: Double

    public init(epochs: [EpochMetrics], windows: Int, stoppedEarly: Bool, bestValLoss: Float?, seconds: Double) {
        (self.epochs, self.windows, self.stoppedEarly, self.bestValLoss, self.seconds) = (epochs, windows, stoppedEarly, bestValLoss, seconds)
    }

    public var finalTrainLoss: Float { epochs.last?.trainLoss ?? .nan }
    public var lastValLoss: Float? { epochs.last { $0.valLoss != nil }?.valLoss }
}

/// Observes training. Every method has an empty default.
public protocol TrainerCallback: AnyObject {
    func trainingStarted(model: String, windows: Int, maxEpochs: Int)
    func epochEnded(_ metrics: EpochMetrics, maxEpochs: Int)
    func trainingEnded(_ summary: TrainingSummary)
}

extension TrainerCallback {
    public func trainingStarted(model: String, windows: Int, maxEpochs: Int) {}
    public func epochEnded(_ metrics: EpochMetrics, maxEpochs: Int) {}
    public func trainingEnded(_ summary: TrainingSummary) {}
}

/// Trains autoencoders on window datasets (numalogic's `TimeseriesTrainer`, without Lightning).
///
/// Each step: zero gradients, the model's training objective on a batch, backward, optimizer step (the
/// model's `optim_algo`, `lr`, `weight_decay`). A trailing batch of one window is folded into the previous
/// batch, since BatchNorm cannot normalise a single sample in training.
public final class AutoencoderTrainer {
    public let config: TrainerConfig
    public var callbacks: [any TrainerCallback]

    public init(config: TrainerConfig = TrainerConfig(), callbacks: [any TrainerCallback] = []) {
        self.config = config
        self.callbacks = callbacks
    }

    /// Trains on a data module's split with its batch size.
    @discardableResult
    public func fit(_ model: any Autoencoder, data: TimeseriesDataModule) throws(TrainingError) -> TrainingSummary {
        var c = config
        c.batchSize = data.batchSize
        return try AutoencoderTrainer(config: c, callbacks: callbacks).fit(model, train: data.train, validation: data.validation)
    }

    @discardableResult
    public func fit(_ model: any Autoencoder, train: StreamingDataset, validation: StreamingDataset? = nil) throws(TrainingError) -> TrainingSummary {
        try config.validate()
        for ds in [train] + (validation.map { [$0] } ?? []) {
            guard ds.seqLen == model.seqLen, ds.features == model.nFeatures else {
                throw .invalidDataShape("\(model.name) takes windows of \(model.seqLen)×\(model.nFeatures), the data gives \(ds.seqLen)×\(ds.features)")
            }
        }
        let start = MonotonicClock.now()
        var rng = RandomGenerator(seed: config.seed ?? 0)
        if let seed = config.seed { model.reseedStochasticModules(seed) }
        let optimizer = model.makeOptimizer()
        for cb in callbacks { cb.trainingStarted(model: model.name, windows: train.count, maxEpochs: config.maxEpochs) }

        var history: [EpochMetrics] = []
        var best: (loss: Float, state: StateDict)?
        var checksWithoutImprovement = 0
        var stoppedEarly = false
        var order = Array(0..<train.count)
        for epoch in 1...config.maxEpochs {
            let epochStart = MonotonicClock.now()
            model.train()
            if config.shuffle { order.shuffle(using: &rng) }
            var total: Double = 0
            let batches = Self.batches(order, size: config.batchSize)
            for (b, indices) in batches.enumerated() {
                optimizer.zeroGrad()
                let loss = model.trainingLoss(Variable(train.batch(indices)))
                let value = loss.value.scalar
                guard value.isFinite else { throw .nonFiniteLoss(epoch: epoch, batch: b) }
                loss.backward()
                optimizer.step()
                total += Double(value) * Double(indices.count)
            }
            var valLoss: Float?
            if let validation, epoch % config.checkValEveryNEpoch == 0 || epoch == config.maxEpochs {
                let v = evaluate(model, validation)
                valLoss = v
                if let es = config.earlyStopping {
                    if best == nil || v < best!.loss - es.minDelta {
                        best = (v, es.restoreBestWeights ? model.stateDict() : StateDict())
                        checksWithoutImprovement = 0
                    } else {
                        checksWithoutImprovement += 1
                        stoppedEarly = checksWithoutImprovement >= es.patience
                    }
                } else if best == nil || v < best!.loss {
                    best = (v, StateDict())
                }
            }
            let metrics = EpochMetrics(epoch: epoch, trainLoss: Float(total / Double(train.count)), valLoss: valLoss,
                                       seconds: MonotonicClock.now() - epochStart, batches: batches.count)
            history.append(metrics)
            for cb in callbacks { cb.epochEnded(metrics, maxEpochs: config.maxEpochs) }
            if stoppedEarly { break }
        }
        if let es = config.earlyStopping, es.restoreBestWeights, let best, best.state.count > 0 {
            try? model.loadStateDict(best.state)
        }
        model.eval()
        let summary = TrainingSummary(epochs: history, windows: train.count, stoppedEarly: stoppedEarly,
                                      bestValLoss: best?.loss, seconds: MonotonicClock.now() - start)
        for cb in callbacks { cb.trainingEnded(summary) }
        return summary
    }

    /// Mean validation loss over `data` in evaluation mode, without a graph.
    public func evaluate(_ model: any Autoencoder, _ data: StreamingDataset) -> Float {
        let wasTraining = model.isTraining
        model.eval()
        defer { if wasTraining { model.train() } }
        var total: Double = 0
        withNoGrad {
            for indices in Self.batches(Array(0..<data.count), size: config.batchSize) {
                total += Double(model.validationLoss(Variable(data.batch(indices))).value.scalar) * Double(indices.count)
            }
        }
        return Float(total / Double(data.count))
    }

    /// Element-wise reconstruction errors (numalogic's `predict`): per window `(n, L, F)`, or with
    /// `unbatch` per point `(N, F)` through ``InverseWindow/keepFirst``.
    public func predict(_ model: any Autoencoder, _ data: StreamingDataset, unbatch: Bool = true) -> Tensor {
        var parts: [Tensor] = []
        for indices in Self.batches(Array(0..<data.count), size: config.batchSize) {
            parts.append(model.reconstructionErrors(data.batch(indices)))
        }
        let windows = Tensor.concat(parts, axis: 0)
        return unbatch ? InverseWindow.keepFirst(windows) : windows
    }

    /// Consecutive chunks of `order`; a trailing chunk of one joins the previous chunk.
    public static func batches(_ order: [Int], size: Int) -> [ArraySlice<Int>] {
        var out: [ArraySlice<Int>] = []
        var i = 0
        while i < order.count {
            let end = min(i + size, order.count)
            if end - i == 1, let last = out.popLast() {
                out.append(order[last.startIndex..<end])
            } else {
                out.append(order[i..<end])
            }
            i = end
        }
        return out
    }
}

