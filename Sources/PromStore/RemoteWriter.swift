import CSnappy
import Foundation
import Logging
import Stage
import SwiftProtobuf
import SystemCalls

/// Scores written back to a Prometheus-compatible store by remote write 1.0 (protobuf `WriteRequest`, snappy block
/// compression, `POST` with the spec's headers). Scoring threads hand over samples without waiting
/// (``submit(_:)``): a bounded queue (`remote_write.queue_capacity` samples; beyond it new samples are dropped and
/// counted), one sender thread batching up to `batch_size` samples or `flush_interval_ms`, retries with backoff on
/// network errors, timeouts, 429 and 5xx; a 4xx answer drops its batch (counted as `rejected`), as the spec says.
///
/// Series per scored point: `aeflow_anomaly_score`, `aeflow_is_anomaly` (0 or 1) and `aeflow_metric_score{metric}`
/// per metric, labelled `pipeline` and the key (``ScoreLabels``) plus `external_labels`.
public final class RemoteWriter: ScoreSink, @unchecked Sendable {
    // @unchecked: the queue and flags are guarded by `cond`; the rest is immutable or thread-safe.
    public let conf: RemoteWriteConf
    let client: StoreClient
    let metrics: StoreMetrics
    let logger: Logger
    private let cond = NSCondition()
    private var queue: [ScoreSample] = []
    private var queuedSamples = 0
    private var stopping = false
    private var sending = false
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)

    public static let scoreName = "aeflow_anomaly_score"
    public static let anomalyName = "aeflow_is_anomaly"
    public static let metricScoreName = "aeflow_metric_score"

    public init(_ conf: RemoteWriteConf, metrics: StoreMetrics, logger: Logger) throws(StoreFailure) {
        self.conf = conf
        client = try StoreClient(conf.endpoint)
        (self.metrics, self.logger) = (metrics, logger)
    }

    /// Samples one scored point becomes.
    static func sampleCount(_ s: ScoreSample) -> Int { 2 + (s.metricScores?.count ?? 0) }

    public func start() {
        let t = ThreadName.thread("aeflow-remote-write") { [self] in run() }
        thread = t
        t.start()
        logger.info("remote write started", metadata: ["url": "\(conf.endpoint.url)", "batch_size": "\(conf.batchSize)",
                                                       "queue_capacity": "\(conf.queueCapacity)"])
    }

    public func submit(_ samples: [ScoreSample]) {
        var dropped = 0
        cond.lock()
        let late = stopping
        for s in samples {
            let n = Self.sampleCount(s)
            if late || queuedSamples + n > conf.queueCapacity { dropped += n; continue }
            queue.append(s)
            queuedSamples += n
        }
        if queuedSamples >= conf.batchSize { cond.signal() }
        // Set under the lock: set after it, a depth read here could land after the sender's newer one and stay.
        metrics.writeQueue.set(Int64(queuedSamples))
        cond.unlock()
        metrics.dropped(late ? "stopping" : "queue_full", dropped)
    }

    /// Samples queued or being sent.
    public var pending: Int { cond.lock(); defer { cond.unlock() }; return queuedSamples + (sending ? 1 : 0) }

    /// Stops taking samples, sends what is queued within `grace` seconds, and counts the rest as dropped.
    public func stop(grace: Double = 5) {
        cond.lock()
        let started = thread != nil && !stopping
        stopping = true
        deadline = MonotonicClock.now() + grace
        cond.broadcast()
        cond.unlock()
        guard started else { return }
        if done.wait(timeout: .now() + grace + conf.endpoint.timeoutSeconds + 1) == .timedOut {
            logger.warning("remote write did not finish within its grace")
        }
        client.shutdown()
    }

    /// When a stopping writer gives up on what is still queued (guarded by `cond`).
    private var deadline = Double.infinity
    private var pastDeadline: Bool { cond.lock(); defer { cond.unlock() }; return MonotonicClock.now() >= deadline }

    func run() {
        defer { done.signal() }
        var lastFlush = MonotonicClock.now()
        while true {
            cond.lock()
            while !stopping && queuedSamples < conf.batchSize {
                let wait = lastFlush + conf.flushIntervalSeconds - MonotonicClock.now()
                if wait <= 0 && queuedSamples > 0 { break }
                _ = cond.wait(until: Date(timeIntervalSinceNow: max(wait, conf.flushIntervalSeconds / 4)))
            }
            if stopping && (queue.isEmpty || MonotonicClock.now() >= deadline) {
                let left = queuedSamples
                queue.removeAll()
                queuedSamples = 0
                metrics.writeQueue.set(Int64(0))
                cond.unlock()
                metrics.dropped("stopping", left)
                if left > 0 { logger.warning("remote write stopped with samples unsent", metadata: ["samples": "\(left)"]) }
                return
            }
            // One batch: whole points up to batch_size samples (at least one point).
            var taken = 0, count = 0
            while taken < queue.count && (count == 0 || count + Self.sampleCount(queue[taken]) <= conf.batchSize) {
                count += Self.sampleCount(queue[taken])
                taken += 1
            }
            let batch = Array(queue.prefix(taken))
            queue.removeFirst(taken)
            queuedSamples -= count
            sending = true
            metrics.writeQueue.set(Int64(queuedSamples))
            cond.unlock()
            lastFlush = MonotonicClock.now()
            send(batch, samples: count)
            cond.lock(); sending = false; cond.unlock()
        }
    }

    func send(_ batch: [ScoreSample], samples: Int) {
        let body: [UInt8]
        do { body = try Self.compress(Self.writeRequest(batch, cache: labelCache).serializedBytes()) } catch {
            metrics.dropped("rejected", samples)
            logger.error("remote write request not encoded", metadata: ["error": "\(error)"])
            return
        }
        let start = ContinuousClock.now
        let outcome = client.send(.POST, "", headers: [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy"),
                                                       ("X-Prometheus-Remote-Write-Version", "0.1.0")], body: body,
                                  shouldStop: { [self] in pastDeadline },
                                  onRetry: { [metrics] failure in
            metrics.wrote(failure.reason)
            metrics.writeRetries.increment()
        })
        metrics.writeSeconds.record(ContinuousClock.now - start)
        switch outcome {
        case .success:
            metrics.wrote("ok")
            metrics.writeSamplesSent.increment(by: Int64(samples))
        case .failure(let failure):
            metrics.wrote(failure.reason)
            let reason = failure.isRetryable ? "retries_exhausted" : "rejected"
            metrics.dropped(reason, samples)
            logger.warning("remote write failed", metadata: ["error": "\(failure)", "samples": "\(samples)", "dropped": "\(reason)"])
        }
    }

    /// A scored key's series labels, built once (sorted by name, as the spec requires): `aeflow_anomaly_score`,
    /// `aeflow_is_anomaly`, and `aeflow_metric_score` per metric.
    struct KeyLabels {
        var score: [Prometheus_Label]
        var anomaly: [Prometheus_Label]
        var metrics: [[Prometheus_Label]]
    }

    struct SeriesKey: Hashable { let pipeline: String; let key: [String] }

    /// The labels of every key written recently (the sender thread's; cleared beyond `cacheLimit` keys).
    final class LabelCache {
        var entries: [SeriesKey: KeyLabels] = [:]
        let external: [(String, String)]
        let cacheLimit: Int
        init(external: [(String, String)], cacheLimit: Int = 200_000) { (self.external, self.cacheLimit) = (external, cacheLimit) }

        func labels(_ s: ScoreSample, _ id: SeriesKey) -> KeyLabels {
            if let l = entries[id] { return l }
            if entries.count >= cacheLimit { entries.removeAll(keepingCapacity: true) }
            let base = [("pipeline", s.pipelineID)] + ScoreLabels.keyLabels(names: s.keyNames, values: s.key) + external
            func make(_ name: String, _ extra: [(String, String)]) -> [Prometheus_Label] {
                (base + extra + [("__name__", name)]).sorted { $0.0 < $1.0 }.map { var l = Prometheus_Label(); l.name = $0.0; l.value = $0.1; return l }
            }
            let l = KeyLabels(score: make(RemoteWriter.scoreName, []), anomaly: make(RemoteWriter.anomalyName, []),
                              metrics: s.metrics.map { make(RemoteWriter.metricScoreName, [("metric", $0)]) })
            entries[id] = l
            return l
        }
    }

    private lazy var labelCache = LabelCache(external: conf.externalLabels)

    /// The `WriteRequest` for `batch`: one time series per (name, labels), samples oldest first as they came, labels
    /// sorted by name.
    static func writeRequest(_ batch: [ScoreSample], external: [(String, String)]) -> Prometheus_WriteRequest {
        writeRequest(batch, cache: LabelCache(external: external))
    }

    static func writeRequest(_ batch: [ScoreSample], cache: LabelCache) -> Prometheus_WriteRequest {
        // Per key: its labels and its samples, series by series.
        struct Group { var labels: KeyLabels; var score: [Prometheus_Sample] = []; var anomaly: [Prometheus_Sample] = []; var metrics: [[Prometheus_Sample]] }
        var index: [SeriesKey: Int] = [:]
        var groups: [Group] = []
        func sample(_ v: Double, _ t: Int64) -> Prometheus_Sample { var x = Prometheus_Sample(); x.value = v; x.timestamp = t; return x }
        for s in batch {
            let id = SeriesKey(pipeline: s.pipelineID, key: s.key)
            let g: Int
            if let known = index[id] { g = known } else {
                let labels = cache.labels(s, id)
                g = groups.count
                index[id] = g
                groups.append(Group(labels: labels, metrics: Array(repeating: [], count: labels.metrics.count)))
            }
            groups[g].score.append(sample(Double(s.score), s.timestamp))
            groups[g].anomaly.append(sample(s.isAnomaly ? 1 : 0, s.timestamp))
            if let f = s.metricScores {
                for (m, v) in f.prefix(groups[g].metrics.count).enumerated() { groups[g].metrics[m].append(sample(Double(v), s.timestamp)) }
            }
        }
        var series: [Prometheus_TimeSeries] = []
        series.reserveCapacity(groups.count * 5)
        func add(_ labels: [Prometheus_Label], _ samples: [Prometheus_Sample]) {
            guard !samples.isEmpty else { return }
            var ts = Prometheus_TimeSeries()
            ts.labels = labels
            ts.samples = samples
            series.append(ts)
        }
        for g in groups {
            add(g.labels.score, g.score)
            add(g.labels.anomaly, g.anomaly)
            for (m, samples) in g.metrics.enumerated() { add(g.labels.metrics[m], samples) }
        }
        var r = Prometheus_WriteRequest()
        r.timeseries = series
        return r
    }

    /// Snappy block format (not the framed stream), as remote write requires.
    static func compress(_ input: [UInt8]) throws(StoreFailure) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: snappy_max_compressed_length(input.count))
        var length = out.count
        let status = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                i.baseAddress!.withMemoryRebound(to: CChar.self, capacity: i.count) { ip in
                    o.baseAddress!.withMemoryRebound(to: CChar.self, capacity: o.count) { op in
                        snappy_compress(ip, i.count, op, &length)
                    }
                }
            }
        }
        guard status == SNAPPY_OK else { throw .configuration("snappy_compress failed (\(status.rawValue))") }
        out.removeSubrange(length...)
        return out
    }

    /// Snappy block decompression (tests, and reading a request back).
    public static func decompress(_ input: [UInt8]) -> [UInt8]? {
        var length = 0
        let ok = input.withUnsafeBufferPointer { i in
            i.baseAddress.map { b in b.withMemoryRebound(to: CChar.self, capacity: i.count) { snappy_uncompressed_length($0, i.count, &length) } }
        }
        guard ok == SNAPPY_OK else { return nil }
        var out = [UInt8](repeating: 0, count: length)
        let status = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                i.baseAddress!.withMemoryRebound(to: CChar.self, capacity: i.count) { ip in
                    o.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(o.count, 1)) { op in
                        snappy_uncompress(ip, i.count, op, &length)
                    }
                }
            }
        }
        return status == SNAPPY_OK ? Array(out.prefix(length)) : nil
    }
}
