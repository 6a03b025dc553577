import Foundation
import Logging
import Scoring
import Stage
import Training
import SystemCalls

/// Why a claimed training ended without a new version (the `reason` label of `aeflow_retrain_trainings_failed_total`).
public enum TrainingFailure: String, Sendable, CaseIterable, Equatable {
    /// The trainer failed (a non-finite loss, say).
    case training
    /// The history rows could not become training data (gaps, bad values).
    case data
    /// The pipeline's configuration cannot train (a model that does not fit its window, say).
    case config
    /// Trained, but refused by the validation gate: the live version keeps serving.
    case validation
    /// The checkpoint could not be published.
    case store
    /// The history file could not be read.
    case history
}

/// A training that ended without a new version, with what happened.
struct TrainingError: Error, Sendable {
    let failure: TrainingFailure
    let detail: String
    init(_ failure: TrainingFailure, _ detail: String) { (self.failure, self.detail) = (failure, detail) }
}

/// One claimed training: history → numalogic's recipe → validation gate → atomic checkpoint. Every way it can
/// end is a ``TrainOutcome``; recording the outcome, metrics and logs are the stage's job.
struct TrainingJob: Sendable {
    let ref: ModelID
    let target: PointRouter.Target
    let forced: Bool
    /// The memory reserved for it by the scheduler, in bytes.
    let estimate: Int

    /// What a training reads and writes.
    struct Context {
        let history: HistoryStore
        let checkpoints: CheckpointStore
        let maxRows: Int
        let missing: AEFlowConfig.Windows.MissingPolicy
        let maxLossRatio: Double
        let logger: Logger
        /// Wall-clock seconds (the time a model is trained at).
        let now: () -> Double
    }

    /// Trains, validates and publishes; `metadata` gains `rows` and `version` as they become known.
    func run(in c: Context, metadata: inout Logger.Metadata) -> TrainOutcome {
        let conf = target.pipeline.numalogicConf
        do {
            let data: TrainingData
            do {
                data = try TrainingData.load(history: c.history, ref: ref, target: target, maxRows: c.maxRows, missing: c.missing)
            } catch {
                throw TrainingError(.history, error.description)
            }
            metadata["rows"] = "\(data.rows)"
            guard data.rows >= conf.trainer.minTrainSize else { return .insufficientData(rows: data.rows) }
            let progress = TrainingProgress(style: .lines, logEveryNEpochs: 10, label: ref.description, logger: c.logger)
            let trainer = PipelineTrainer(conf: conf, metrics: target.pipeline.metrics, pipelineID: ref.pipelineID, key: ref.key,
                                          callbacks: [progress])
            let result = try trainer.train(data.tensor, timestamps: data.timestamps, segments: data.segments, now: Int64(c.now() * 1000))
            try Validation(maxLossRatio: c.maxLossRatio).check(result, against: c.checkpoints, ref: ref, data: data, logger: c.logger)
            let published: (version: Int, path: String)
            do { published = try c.checkpoints.publish(result.checkpoint) } catch { throw TrainingError(.store, "\(error)") }
            metadata["version"] = "\(published.version)"
            return .succeeded(version: published.version, rows: data.rows)
        } catch let e as TrainingError {
            return .failed(e.failure, e.detail)
        } catch let e as PipelineTrainingError {
            switch e {
            case .insufficientData(let rows, _): return .insufficientData(rows: rows)
            case .data: return .failed(.data, e.description)
            case .config: return .failed(.config, e.description)
            case .training: return .failed(.training, e.description)
            }
        } catch {
            return .failed(.training, "\(error)")
        }
    }
}
