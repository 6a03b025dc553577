import Prometheus

/// The metrics-store clients' Prometheus metrics (prefixed `aeflow_`), in the process's registry. Thread-safe.
public final class StoreMetrics: Sendable {
    public let fetchPoints: Counter
    public let fetchRetries: Counter
    private let fetchRequests: [String: Counter]
    public let writeSamplesSent: Counter
    private let writeSamplesDropped: [String: Counter]
    private let writeRequests: [String: Counter]
    public let writeRetries: Counter
    public let writeQueue: Gauge
    /// Seconds one remote-write request took (its last attempt).
    public let writeSeconds: DurationHistogram

    /// Why samples were dropped: the queue was full, the store refused them (4xx), retries ran out, or the process
    /// stopped with them still queued past the grace.
    public static let dropReasons = ["queue_full", "rejected", "retries_exhausted", "stopping"]

    private static func d(_ name: String, _ unit: String = "", _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "aeflow", metricName: name, unitName: unit, helpText: help)
    }

    /// One `<name>_total` counter per value of `label`.
    private static func family(_ r: PrometheusCollectorRegistry, _ name: String, _ help: String, _ label: String,
                               _ values: [String]) -> [String: Counter] {
        Dictionary(uniqueKeysWithValues: values.map { ($0, r.makeCounter(descriptor: d(name, "total", help), labels: [(label, $0)])) })
    }

    public init(registry r: PrometheusCollectorRegistry) {
        fetchPoints = r.makeCounter(descriptor: Self.d("history_fetch_points", "total", "Points read from the metrics store (prometheus_conf)."))
        fetchRetries = r.makeCounter(descriptor: Self.d("history_fetch_retries", "total", "History queries retried after a failure."))
        let outcomes = ["ok"] + StoreFailure.reasons
        fetchRequests = Self.family(r, "history_fetch_requests", "History range queries, by outcome (after retries).", "outcome", outcomes)
        writeSamplesSent = r.makeCounter(descriptor: Self.d("remote_write_samples_sent", "total", "Score samples the store accepted by remote write."))
        writeSamplesDropped = Self.family(r, "remote_write_samples_dropped", "Score samples not written, by reason.", "reason", Self.dropReasons)
        writeRequests = Self.family(r, "remote_write_requests", "Remote-write requests, by outcome of each attempt.", "outcome", outcomes)
        writeRetries = r.makeCounter(descriptor: Self.d("remote_write_retries", "total", "Remote-write requests retried after a failure."))
        writeQueue = r.makeGauge(descriptor: Self.d("remote_write_queue_samples", "", "Score samples waiting to be written."))
        writeSeconds = r.makeDurationHistogram(descriptor: Self.d("remote_write_request", "seconds", "Seconds per remote-write request."),
                                               buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
                                                         .milliseconds(500), .seconds(2), .seconds(10)])
    }

    public func fetched(_ outcome: String) { fetchRequests[outcome]?.increment() }
    public func wrote(_ outcome: String) { writeRequests[outcome]?.increment() }
    public func dropped(_ reason: String, _ n: Int) { if n > 0 { writeSamplesDropped[reason]?.increment(by: Int64(n)) } }
}
