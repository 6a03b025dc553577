/// When a key gets its first model and when it is retrained — one rule for the daemon's train requests, the
/// retrain stage, the Numaflow UDF and the backtest (README "When models train").
///
/// * First model: as soon as the key's usable history (its rows within `train_hours` of its newest point)
///   holds `min_train_size` rows.
/// * Retrain: when `retrain_freq_hr` has passed since the last training (event time), or when the usable
///   history has grown to `retrain_growth` × the rows the last model was trained on (0: off).
public struct TrainingSchedule: Sendable, Equatable {
    public var minTrainSize: Int
    public var trainHours: Double
    public var retrainFreqHr: Double
    public var retrainGrowth: Double

    public init(minTrainSize: Int, trainHours: Double, retrainFreqHr: Double, retrainGrowth: Double) {
        (self.minTrainSize, self.trainHours, self.retrainFreqHr, self.retrainGrowth) = (minTrainSize, trainHours, retrainFreqHr, retrainGrowth)
    }

    /// The last training of a key: when (event time, epoch ms) and on how many rows.
    public struct LastTraining: Sendable, Equatable {
        public var at: Int64
        public var rows: Int
        public init(at: Int64, rows: Int) { (self.at, self.rows) = (at, rows) }
    }

    /// Why a key should train now.
    public enum Reason: String, Sendable, Equatable {
        case first, age, growth
    }

    /// The span of history a training reads, in milliseconds.
    public var spanMilliseconds: Int64 { Int64((trainHours * 3_600_000).rounded()) }

    /// Whether a key with `rows` usable rows at event time `now` is due, given its last training.
    public func due(rows: Int, now: Int64, last: LastTraining?) -> Reason? {
        guard rows >= minTrainSize else { return nil }
        guard let last else { return .first }
        if now - last.at >= Int64((retrainFreqHr * 3_600_000).rounded()) { return .age }
        if retrainGrowth > 1, Double(rows) >= retrainGrowth * Double(last.rows) { return .growth }
        return nil
    }
}
