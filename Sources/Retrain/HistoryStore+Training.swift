import Foundation
import GRDB
import Stage

/// numalogic's training de-duplication rules (reference §7.4), with times in seconds.
/// AEFlow adds `retrainGrowth` (``TrainingSchedule``): a model is also due when the key's history has grown to that
/// multiple of the rows it was trained on, however fresh it is.
public struct DedupRules: Sendable, Equatable {
    public var retrySec: Double
    public var retrainFreqSec: Double
    public var minTrainSize: Int
    public var dataFreqSec: Double
    public var retrainGrowth: Double
    public init(retrySec: Double, retrainFreqSec: Double, minTrainSize: Int, dataFreqSec: Double, retrainGrowth: Double = 0) {
        (self.retrySec, self.retrainFreqSec, self.minTrainSize, self.dataFreqSec) = (retrySec, retrainFreqSec, minTrainSize, dataFreqSec)
        self.retrainGrowth = retrainGrowth
    }

    /// Whether `rows` held rows have outgrown a model trained on `trainedRows`.
    func outgrown(rows: Int?, trainedRows: Int?) -> Bool {
        guard retrainGrowth > 1, let rows, let trainedRows, trainedRows > 0 else { return false }
        return Double(rows) >= retrainGrowth * Double(trainedRows)
    }
}

/// Why a training was not started.
public enum SkipReason: String, Sendable, CaseIterable {
    /// Another training of the model started less than `retry_sec` ago and has not finished.
    case inProgress = "in_progress"
    /// The last attempt started less than `retry_sec` ago.
    case retryBackoff = "retry_backoff"
    /// The last attempt found too few rows, and not enough time has passed for the rest to arrive.
    case insufficientDataBackoff = "insufficient_data_backoff"
    /// The model was trained less than `retrain_freq_hr` ago.
    case fresh = "model_fresh"
    /// The history holds fewer than `min_train_size` rows for it.
    case insufficientData = "insufficient_data"
    /// No pipeline of that name in the configuration.
    case unknownPipeline = "unknown_pipeline"
}

/// How a claimed training ended.
public enum TrainOutcome: Sendable, Equatable {
    case succeeded(version: Int, rows: Int)
    case insufficientData(rows: Int)
    /// Ended without a new version; `.validation` means trained but refused by the gate (the live version keeps serving).
    case failed(TrainingFailure, String)
    /// The stage stopped before the training ended: the claim is released, so a restarted stage retries at once.
    case interrupted

    var label: String {
        switch self {
        case .succeeded: "succeeded"
        case .insufficientData: "insufficient_data"
        case .failed(.validation, _): "rejected"
        case .failed: "failed"
        case .interrupted: "interrupted"
        }
    }
}

/// The stored state of one model's trainings.
public struct TrainState: Sendable, Equatable {
    public var requestedAt: Double?
    public var forced: Bool
    public var readTs: Double?
    public var trainTs: Double?
    public var trainRecords: Int?
    public var runningSince: Double?
    public var lastOutcome: String?
    public var lastDetail: String?
    public var lastVersion: Int?
    public var trainings: Int
    public var failures: Int
}

extension HistoryStore {
    /// Records a request to train (from the daemon, HTTP or the command line). A forced request ("retrain
    /// now") ignores the freshness and back-off rules, never a training in progress.
    public func request(_ ref: ModelID, now: Double, forced: Bool) throws(HistoryError) {
        do {
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO train_state(pipeline, model_key, requested_at, forced) VALUES (?, ?, ?, ?)
                    ON CONFLICT(pipeline, model_key) DO UPDATE SET
                        requested_at = coalesce(requested_at, excluded.requested_at), forced = max(forced, excluded.forced)
                    """, arguments: [ref.pipelineID, Self.keyText(ref.key), now, forced ? 1 : 0])
            }
        } catch {
            throw HistoryError("request \(ref)", error)
        }
    }

    /// Pending requests, forced first, oldest first.
    public func pendingRequests(limit: Int = 10_000) throws(HistoryError) -> [(ref: ModelID, forced: Bool)] {
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT pipeline, model_key, forced FROM train_state WHERE requested_at IS NOT NULL
                    ORDER BY forced DESC, requested_at LIMIT ?
                    """, arguments: [limit]).compactMap { r in
                    Self.keyValues(r[1]).map { (ModelID(pipelineID: r[0], key: $0), (r[2] as Int) != 0) }
                }
            }
        } catch {
            throw HistoryError("pending requests", error)
        }
    }

    /// Clears a request without training (it was skipped).
    public func dropRequest(_ ref: ModelID) throws(HistoryError) {
        do {
            try pool.write { db in
                try db.execute(sql: "UPDATE train_state SET requested_at = NULL, forced = 0 WHERE pipeline = ? AND model_key = ?",
                               arguments: [ref.pipelineID, Self.keyText(ref.key)])
            }
        } catch {
            throw HistoryError("drop request \(ref)", error)
        }
    }

    /// numalogic's `ack_read`, atomically (one immediate transaction, so two stages sharing the file
    /// never both claim a model): either the model is claimed (`read_ts` and `running_since` set to `now`,
    /// the request cleared) or the reason it was not.
    public func claim(_ ref: ModelID, now: Double, rules: DedupRules, forced: Bool) throws(HistoryError) -> SkipReason? {
        do {
            return try pool.writeWithoutTransaction { db in
                var reason: SkipReason?
                try db.inTransaction(.immediate) {
                    let s = try Self.state(db, ref)
                    let rows = ref.key.isEmpty
                        ? try Int.fetchOne(db, sql: "SELECT coalesce(sum(rows), 0) FROM series WHERE pipeline = ?", arguments: [ref.pipelineID])
                        : try Int.fetchOne(db, sql: "SELECT rows FROM series WHERE pipeline = ? AND key = ?", arguments: [ref.pipelineID, Self.keyText(ref.key)])
                    reason = Self.skipReason(s, now: now, rules: rules, forced: forced, rows: rows)
                    if reason == nil {
                        try db.execute(sql: """
                            INSERT INTO train_state(pipeline, model_key, read_ts, running_since) VALUES (?, ?, ?, ?)
                            ON CONFLICT(pipeline, model_key) DO UPDATE SET
                                read_ts = excluded.read_ts, running_since = excluded.running_since, requested_at = NULL, forced = 0
                            """, arguments: [ref.pipelineID, Self.keyText(ref.key), now, now])
                    }
                    return .commit
                }
                return reason
            }
        } catch {
            throw HistoryError("claim \(ref)", error)
        }
    }

    /// The rules of numalogic's `ack_read`, in its order, plus "in progress" (a claim younger than
    /// `retry_sec` that has not finished).
    static func skipReason(_ s: TrainState?, now: Double, rules: DedupRules, forced: Bool, rows: Int? = nil) -> SkipReason? {
        guard let s else { return nil }
        if let running = s.runningSince, now - running < rules.retrySec { return .inProgress }
        if !forced, let records = s.trainRecords, let read = s.readTs,
           now - read < Double(rules.minTrainSize - records) * rules.dataFreqSec {
            return .insufficientDataBackoff
        }
        if !forced, let read = s.readTs, now - read < rules.retrySec { return .retryBackoff }
        if !forced, let trained = s.trainTs, now - trained < rules.retrainFreqSec,
           !(s.lastOutcome == "succeeded" && rules.outgrown(rows: rows, trainedRows: s.trainRecords)) {
            return .fresh
        }
        return nil
    }

    /// Records how a claimed training ended (numalogic's `ack_train` on success).
    public func finish(_ ref: ModelID, now: Double, outcome: TrainOutcome) throws(HistoryError) {
        let key = Self.keyText(ref.key)
        do {
            try pool.write { db in
                switch outcome {
                case .succeeded(let version, let rows):
                    try db.execute(sql: """
                        UPDATE train_state SET train_ts = ?, train_records = ?, running_since = NULL, last_outcome = 'succeeded',
                            last_detail = NULL, last_version = ?, trainings = trainings + 1 WHERE pipeline = ? AND model_key = ?
                        """, arguments: [now, rows, version, ref.pipelineID, key])
                case .insufficientData(let rows):
                    try db.execute(sql: """
                        UPDATE train_state SET train_records = ?, running_since = NULL, last_outcome = 'insufficient_data',
                            last_detail = NULL WHERE pipeline = ? AND model_key = ?
                        """, arguments: [rows, ref.pipelineID, key])
                case .interrupted:
                    try db.execute(sql: """
                        UPDATE train_state SET running_since = NULL, read_ts = NULL, last_outcome = 'interrupted'
                        WHERE pipeline = ? AND model_key = ?
                        """, arguments: [ref.pipelineID, key])
                case .failed(_, let detail):
                    try db.execute(sql: """
                        UPDATE train_state SET running_since = NULL, last_outcome = ?, last_detail = ?, failures = failures + 1
                        WHERE pipeline = ? AND model_key = ?
                        """, arguments: [outcome.label, String(detail.prefix(2000)), ref.pipelineID, key])
                }
            }
        } catch {
            throw HistoryError("finish \(ref)", error)
        }
    }

    /// Records that a model already in the model store (trained elsewhere, or before this history file
    /// existed) was trained at `trainedAt`, so that its age counts.
    public func adopt(_ ref: ModelID, trainedAt: Double, version: Int) throws(HistoryError) {
        do {
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO train_state(pipeline, model_key, train_ts, last_version) VALUES (?, ?, ?, ?)
                    ON CONFLICT(pipeline, model_key) DO UPDATE SET train_ts = excluded.train_ts, last_version = excluded.last_version
                    WHERE train_ts IS NULL
                    """, arguments: [ref.pipelineID, Self.keyText(ref.key), trainedAt, version])
            }
        } catch {
            throw HistoryError("adopt \(ref)", error)
        }
    }

    public func state(_ ref: ModelID) throws(HistoryError) -> TrainState? {
        do { return try pool.read { db in try Self.state(db, ref) } } catch { throw HistoryError("state \(ref)", error) }
    }

    static func state(_ db: Database, _ ref: ModelID) throws -> TrainState? {
        guard let r = try Row.fetchOne(db, sql: """
            SELECT requested_at, forced, read_ts, train_ts, train_records, running_since, last_outcome, last_detail, last_version,
                   trainings, failures FROM train_state WHERE pipeline = ? AND model_key = ?
            """, arguments: [ref.pipelineID, keyText(ref.key)]) else { return nil }
        return TrainState(requestedAt: r[0], forced: (r[1] as Int) != 0, readTs: r[2], trainTs: r[3], trainRecords: r[4], runningSince: r[5],
                          lastOutcome: r[6], lastDetail: r[7], lastVersion: r[8], trainings: r[9], failures: r[10])
    }

    /// Keys of a pipeline (one model per key) whose model is missing or older than the retrain period,
    /// with at least `minRows` rows and outside every back-off: never-trained first, then the oldest.
    public func dueKeys(pipeline: String, now: Double, rules: DedupRules, limit: Int) throws(HistoryError) -> [[String]] {
        do {
            return try pool.read { db in
                try String.fetchAll(db, sql: """
                    SELECT s.key FROM series s LEFT JOIN train_state t ON t.pipeline = s.pipeline AND t.model_key = s.key
                    WHERE s.pipeline = ?1 AND s.rows >= ?2
                      AND (t.train_ts IS NULL OR t.train_ts <= ?3 - ?4
                           OR (?8 > 1 AND t.last_outcome = 'succeeded' AND t.train_records > 0 AND s.rows >= ?8 * t.train_records))
                      AND (t.read_ts IS NULL OR t.read_ts <= ?3 - ?5)
                      AND (t.running_since IS NULL OR t.running_since <= ?3 - ?5)
                      AND NOT (t.train_records IS NOT NULL AND t.read_ts IS NOT NULL AND ?3 - t.read_ts < (?2 - t.train_records) * ?6)
                    ORDER BY (t.train_ts IS NOT NULL), t.train_ts, s.id LIMIT ?7
                    """, arguments: [pipeline, rules.minTrainSize, now, rules.retrainFreqSec, rules.retrySec, rules.dataFreqSec, limit,
                                     rules.retrainGrowth])
                    .compactMap(Self.keyValues)
            }
        } catch {
            throw HistoryError("due keys \(pipeline)", error)
        }
    }

    /// Whether a model shared by a whole pipeline is due (same rules as `dueKeys`, over all its rows).
    public func pipelineDue(pipeline: String, now: Double, rules: DedupRules) throws(HistoryError) -> Bool {
        do {
            let total = try pool.read { db in try Int.fetchOne(db, sql: "SELECT coalesce(sum(rows), 0) FROM series WHERE pipeline = ?", arguments: [pipeline]) ?? 0 }
            guard total >= rules.minTrainSize else { return false }
            let s = try state(ModelID(pipelineID: pipeline, key: []))
            return Self.skipReason(s, now: now, rules: rules, forced: false, rows: total) == nil
        } catch {
            throw (error as? HistoryError) ?? HistoryError("pipeline due \(pipeline)", error)
        }
    }

    /// Rows held for one key (0 when unknown).
    public func rowCount(pipeline: String, key: [String]) throws(HistoryError) -> Int {
        do {
            return try pool.read { db in
                try Int.fetchOne(db, sql: "SELECT rows FROM series WHERE pipeline = ? AND key = ?", arguments: [pipeline, Self.keyText(key)]) ?? 0
            }
        } catch {
            throw HistoryError("row count", error)
        }
    }

    /// Rows held for a whole pipeline.
    public func rowCount(pipeline: String) throws(HistoryError) -> Int {
        do {
            return try pool.read { db in
                try Int.fetchOne(db, sql: "SELECT coalesce(sum(rows), 0) FROM series WHERE pipeline = ?", arguments: [pipeline]) ?? 0
            }
        } catch {
            throw HistoryError("row count", error)
        }
    }
}
