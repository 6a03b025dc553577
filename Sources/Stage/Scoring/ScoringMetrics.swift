import Prometheus
import Synchronization
import Scoring
import ZMQ

/// The daemon's Prometheus metrics (all prefixed `aeflow_`), served on `/metrics`. Thread-safe.
public final class ScoringMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    public let pointsIn: Counter
    public let messagesIn: Counter
    public let modelSwaps: Counter
    public let modelLoadFailures: Counter
    private let modelsLoaded: Gauge
    private let keys: Gauge
    /// Per scoring worker (`windows.workers`): the gauges show the sums.
    private let keysByWorker = Mutex<[Int: Int]>([:])
    private let modelsByWorker = Mutex<[Int: Int]>([:])
    public let keysEvicted: Counter
    public let keysExpired: Counter
    public let queueDepth: Gauge
    public let pointsScoredInPlace: Counter
    public let trainRequests: Counter
    public let trainRequestsDropped: Counter
    public let deadLettersDropped: Counter
    public let historyDropped: Counter
    public let historyUnconsumed: Counter
    private let curveRefusedByReason: [String: Counter]
    public let redelivered: Counter
    public let filledValues: Counter
    /// Seconds from a message's arrival to its score being sent.
    public let latency: ValueHistogram
    /// By position in `statuses` (a counter per output: a dictionary lookup hashed the status's text).
    private let scoredByStatus: [Counter]
    private static let statuses = ScoreStatus.allCases
    private let droppedByOutput: [String: Counter]
    public static let outputs = ["scores", "train_requests", "dead_letter", "history"]
    private let rejectedByReason: [String: Counter]
    /// `aeflow_anomalies_total{pipeline}`, made on a pipeline's first anomaly.
    private let anomaliesByPipeline = Mutex<[String: Counter]>([:])

    private static func d(_ name: String, _ unit: String = "", _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "aeflow", metricName: name, unitName: unit, helpText: help)
    }

    public init() {
        let r = registry
        pointsIn = r.makeCounter(descriptor: Self.d("points_in", "total", "Points accepted for scoring."))
        messagesIn = r.makeCounter(descriptor: Self.d("messages_in", "total", "Messages received on the input sockets."))
        modelSwaps = r.makeCounter(descriptor: Self.d("model_swaps", "total", "Models replaced by a newer version without restart."))
        modelLoadFailures = r.makeCounter(descriptor: Self.d("model_load_failures", "total", "New model versions refused (the previous one keeps serving)."))
        modelsLoaded = r.makeGauge(descriptor: Self.d("models_loaded", "", "Models currently loaded."))
        keys = r.makeGauge(descriptor: Self.d("keys", "", "Keys with a window in memory."))
        keysEvicted = r.makeCounter(descriptor: Self.d("keys_evicted", "total", "Keys evicted to stay within max_keys (least recently used)."))
        keysExpired = r.makeCounter(descriptor: Self.d("keys_expired", "total", "Keys dropped after being idle."))
        queueDepth = r.makeGauge(descriptor: Self.d("queue_depth", "", "Accepted points waiting to be scored."))
        pointsScoredInPlace = r.makeCounter(descriptor: Self.d("points_scored_in_place", "total",
                                                               "Points the input thread scored itself (a small round for an idle worker with nothing queued) instead of handing them to the worker."))
        trainRequests = r.makeCounter(descriptor: Self.d("train_requests", "total", "Train requests sent to the retrain stage."))
        trainRequestsDropped = r.makeCounter(descriptor: Self.d("train_requests_dropped", "total", "Train requests not sent because no retrain stage was ready."))
        deadLettersDropped = r.makeCounter(descriptor: Self.d("dead_letters_dropped", "total", "Rejected messages not forwarded because the dead-letter socket was full."))
        historyDropped = r.makeCounter(descriptor: Self.d("history_forward_dropped", "total", "Input messages not forwarded to the retrain stage's history because the connected stage is behind."))
        historyUnconsumed = r.makeCounter(descriptor: Self.d("history_forward_unconsumed", "total", "Input messages not forwarded to the history feed because no retrain stage is connected to it."))
        var cr: [String: Counter] = [:]
        for reason in HandshakeFailure.allCases {
            cr[reason.rawValue] = r.makeCounter(descriptor: Self.d("curve_connections_refused", "total", "CURVE connections refused, by reason: plaintext client, wrong server key, key not allowed, other handshake failure."),
                                                labels: [("reason", reason.rawValue)])
        }
        curveRefusedByReason = cr
        redelivered = r.makeCounter(descriptor: Self.d("udf_redelivered", "total", "Numaflow messages answered again from the request-id cache (at-least-once redelivery)."))
        filledValues = r.makeCounter(descriptor: Self.d("filled_values", "total", "Missing metric values filled by the missing-value policy."))
        latency = r.makeValueHistogram(descriptor: Self.d("score_latency", "seconds", "Arrival to publication of a score."),
                                       buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1])
        scoredByStatus = Self.statuses.map { status in
            r.makeCounter(descriptor: Self.d("outputs", "total", "Outputs published, by status (only status=scored was scored by a model)."), labels: [("status", status.rawValue)])
        }
        var j: [String: Counter] = [:]
        for reason in RejectReason.allCases {
            j[reason.rawValue] = r.makeCounter(descriptor: Self.d("points_rejected", "total", "Messages or points rejected, by reason."),
                                               labels: [("reason", reason.rawValue)])
        }
        rejectedByReason = j
        var o: [String: Counter] = [:]
        for output in Self.outputs {
            o[output] = r.makeCounter(descriptor: Self.d("outputs_dropped", "total", "Messages not sent because the output's queue was full (its consumer is not reading) or it had no peer, by output."),
                                      labels: [("output", output)])
        }
        droppedByOutput = o
    }

    /// Keys with a window on worker `shard.index`; `aeflow_keys` is the sum over workers. (The sum is set under the
    /// lock: set after it, one worker's older sum could land after the other's newer one and stay once traffic stops.)
    public func setKeys(_ count: Int, shard: KeyShard) {
        keysByWorker.withLock { $0[shard.index] = count; keys.set(Int64($0.values.reduce(0, +))) }
    }

    /// Models loaded on worker `shard.index`; `aeflow_models_loaded` is the sum over workers (set under the lock).
    public func setModelsLoaded(_ count: Int, shard: KeyShard) {
        modelsByWorker.withLock { $0[shard.index] = count; modelsLoaded.set(Int64($0.values.reduce(0, +))) }
    }

    public func outputDropped(_ output: String) { droppedByOutput[output]?.increment() }
    public func curveRefused(_ reason: HandshakeFailure) { curveRefusedByReason[reason.rawValue]!.increment() }

    public func scored(_ status: ScoreStatus) { scoredByStatus[Self.statuses.firstIndex(of: status)!].increment() }

    /// An output answered (published, or returned over HTTP or to Numaflow): counted by status, and in
    /// `aeflow_anomalies_total{pipeline}` when its score reached the pipeline's alert threshold.
    public func answered(_ status: ScoreStatus, anomalyOf pipeline: String?) {
        scored(status)
        if let pipeline { anomalies(pipeline).increment() }
    }

    private func anomalies(_ pipeline: String) -> Counter {
        anomaliesByPipeline.withLock { table in
            if let c = table[pipeline] { return c }
            let c = registry.makeCounter(descriptor: Self.d("anomalies", "total", "Outputs whose score reached the pipeline's alert threshold (metadata.is_anomaly), by pipeline."),
                                         labels: [("pipeline", pipeline)])
            table[pipeline] = c
            return c
        }
    }
    public func rejected(_ reason: RejectReason) { rejectedByReason[reason.rawValue]!.increment() }

    /// The Prometheus text exposition.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
