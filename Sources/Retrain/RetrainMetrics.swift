
import Prometheus

/// The retrain stage's Prometheus metrics (prefixed `aeflow_retrain_` and `aeflow_history_`). In
/// `serve --with-retrain` they live in the daemon's registry, so one `/metrics` serves both.
public final class RetrainMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    public let started: Counter
    public let succeeded: Counter
    public let running: Gauge
    /// The most trainings ever running at once (to check the concurrency bound from outside).
    public let runningMax: Gauge
    public let queued: Gauge
    public let duration: ValueHistogram
    public let rowsUsed: ValueHistogram
    public let historyRows: Counter
    public let historyReplaced: Counter
    public let historyTrimmed: Counter
    public let historyDropped: Counter
    public let historyRejected: Counter
    public let historyWriteErrors: Counter
    public let historyQueue: Gauge
    public let historyKeys: Gauge
    public let trainRequests: Counter
    /// Reads of history from the metrics store (`source: prometheus`), by outcome (`ok`, `failed`), and their rows.
    public let backfills: [String: Counter]
    public let backfilledRows: Counter
    public let peakResidentBytes: Gauge
    private let failedByReason: [TrainingFailure: Counter]
    private let skippedByReason: [String: Counter]

    private static func d(_ name: String, _ unit: String = "", _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "aeflow", metricName: name, unitName: unit, helpText: help)
    }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        let r = registry
        started = r.makeCounter(descriptor: Self.d("retrain_trainings_started", "total", "Trainings started."))
        succeeded = r.makeCounter(descriptor: Self.d("retrain_trainings_succeeded", "total", "Trainings whose checkpoint was published."))
        running = r.makeGauge(descriptor: Self.d("retrain_trainings_running", "", "Trainings running now."))
        runningMax = r.makeGauge(descriptor: Self.d("retrain_trainings_running_max", "", "The most trainings that ran at once since start."))
        queued = r.makeGauge(descriptor: Self.d("retrain_models_due", "", "Models found due at the last scan (missing, stale or requested)."))
        duration = r.makeValueHistogram(descriptor: Self.d("retrain_training_duration", "seconds", "Training time, data load to published checkpoint."),
                                        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800])
        rowsUsed = r.makeValueHistogram(descriptor: Self.d("retrain_training_rows", "", "History rows each published version was trained on."),
                                        buckets: [100, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 500_000])
        historyRows = r.makeCounter(descriptor: Self.d("history_rows_written", "total", "Points written to the history."))
        historyReplaced = r.makeCounter(descriptor: Self.d("history_rows_replaced", "total", "Points that replaced one at the same key and time."))
        historyTrimmed = r.makeCounter(descriptor: Self.d("history_rows_deleted", "total", "Points deleted by retention (age or row count)."))
        historyDropped = r.makeCounter(descriptor: Self.d("history_rows_dropped", "total", "Points not written because the write queue was full."))
        historyRejected = r.makeCounter(descriptor: Self.d("history_messages_rejected", "total", "History feed messages that did not decode, and points that did not route."))
        historyWriteErrors = r.makeCounter(descriptor: Self.d("history_write_errors", "total", "Failed history transactions (their points are retried once, then dropped)."))
        historyQueue = r.makeGauge(descriptor: Self.d("history_queue_depth", "", "Points waiting to be written."))
        historyKeys = r.makeGauge(descriptor: Self.d("history_keys", "", "Keys with history."))
        backfills = Dictionary(uniqueKeysWithValues: ["ok", "failed"].map { o in
            (o, r.makeCounter(descriptor: Self.d("history_backfills", "total", "History reads from the metrics store (new keys, short history, catch-up at start), by outcome."),
                              labels: [("outcome", o)]))
        })
        backfilledRows = r.makeCounter(descriptor: Self.d("history_backfilled_rows", "total", "Rows read from the metrics store into the history."))
        trainRequests = r.makeCounter(descriptor: Self.d("retrain_requests", "total", "Train requests received (daemon, HTTP, command line)."))
        peakResidentBytes = r.makeGauge(descriptor: Self.d("retrain_peak_resident", "bytes", "The process's peak resident memory (VmHWM)."))
        var f: [TrainingFailure: Counter] = [:]
        for reason in TrainingFailure.allCases {
            f[reason] = r.makeCounter(descriptor: Self.d("retrain_trainings_failed", "total", "Trainings that ended without a new version, by reason."),
                                      labels: [("reason", reason.rawValue)])
        }
        failedByReason = f
        var s: [String: Counter] = [:]
        for reason in SkipReason.allCases {
            s[reason.rawValue] = r.makeCounter(descriptor: Self.d("retrain_trainings_skipped", "total", "Trainings not started, by reason."),
                                               labels: [("reason", reason.rawValue)])
        }
        skippedByReason = s
    }

    public func failed(_ reason: TrainingFailure) { failedByReason[reason]!.increment() }
    public func skipped(_ reason: SkipReason) { skippedByReason[reason.rawValue]!.increment() }

    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
