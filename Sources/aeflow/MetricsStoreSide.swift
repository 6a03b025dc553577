import ArgumentParser
import Logging
import Offline
import Prometheus
import Stage
import TensorCore
#if Prometheus
import PromStore
#endif

/// The metrics-store side of a command (`prometheus_conf`, `remote_write`): the history source and the score
/// writer, built from the configuration with their metrics in the process's registry.
struct MetricsStoreSide: Sendable {
    var history: HistorySource?
    var writer: ScoreSink?
    var start: @Sendable () -> Void = {}
    var stop: @Sendable () -> Void = {}

    static func make(_ cfg: AEFlowConfig, registry: PrometheusCollectorRegistry, logger: Logger, writes: Bool = true) throws -> MetricsStoreSide {
        guard cfg.prometheus != nil || (writes && cfg.remoteWrite != nil) else { return MetricsStoreSide() }
        #if Prometheus
        let metrics = StoreMetrics(registry: registry)
        var side = MetricsStoreSide()
        do {
            if let p = cfg.prometheus { side.history = try PrometheusHistory(p, metrics: metrics, logger: Logger(label: "aeflow.prometheus")) }
            if writes, let w = cfg.remoteWrite {
                let writer = try RemoteWriter(w, metrics: metrics, logger: Logger(label: "aeflow.remote_write"))
                side.writer = writer
                side.start = { writer.start() }
                side.stop = { writer.stop() }
            }
        } catch {
            throw UserFacingError("metrics store: \(error)")
        }
        return side
        #else
        throw UserFacingError("this aeflow was built without the Prometheus trait: prometheus_conf and remote_write need it (swift build --traits Prometheus)")
        #endif
    }
}

/// `aeflow backtest --prometheus URL …`: the series a backtest reads straight from a Prometheus-compatible store.
struct StoreSelection: ParsableArguments {
    @Option(help: "Read the series from this Prometheus or VictoriaMetrics (http[s]://host:port) instead of --input.")
    var prometheus: String?
    @Option(help: "A PromQL query per metric, in the pipeline's metric order (default: the pipeline's configured queries for --key).")
    var query: [String] = []
    @Option(help: "The key's label values, separated by ':' (the stream's composite_keys), for the configured queries.")
    var key: String?
    @Option(help: "First time: RFC 3339 or epoch seconds.") var start: String?
    @Option(help: "Last time: RFC 3339 or epoch seconds.") var end: String?
    @Option(help: "Seconds between points (default: the pipeline's step, else prometheus_conf.scrape_interval).") var step: Double?

    static func time(_ s: String, _ name: String) throws -> Int64 {
        if let v = Double(s), v.isFinite { return Int64((v * 1000).rounded()) }
        guard let ms = MetricTable.parseTimestamp(s) else { throw UserFacingError("--\(name) \"\(s)\" is not RFC 3339 or epoch seconds") }
        return ms
    }

    func load(config path: String?, selection: PipelineSelection) throws -> OfflinePipeline {
        let cfg = try loadConfig(path)
        var (stream, p) = try selection.resolve(cfg)
        let startMs = try Self.time(start!, "start"), endMs = try Self.time(end!, "end")
        guard endMs > startMs else { throw UserFacingError("--end must be after --start") }
        var queries = query
        if queries.isEmpty {
            guard let configured = p.prometheus?.queries else {
                throw UserFacingError("give --query (one per metric), or a --config whose stream reads from prometheus")
            }
            let values = key.map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
            if let values, values.count != stream.compositeKeys.count {
                throw UserFacingError("--key has \(values.count) value(s); the stream's composite_keys are \(stream.compositeKeys)")
            }
            queries = configured.map { q in values.map { PrometheusQueries.restrict(q, names: stream.compositeKeys, values: $0) } ?? q }
        }
        if path == nil || query.count > 0 && query.count != p.metrics.count {
            guard path == nil else { throw UserFacingError("\(query.count) --query given; pipeline \(p.pipelineID) has \(p.metrics.count) metrics \(p.metrics)") }
            p.metrics = queries.count == 1 ? ["value"] : queries.indices.map { "metric\($0 + 1)" }
            do { p.numalogicConf = try p.numalogicConf.withFeatures(queries.count) } catch { throw UserFacingError("\(error)") }
            stream.pipelines = [p]
        }
        var conf = cfg.prometheus ?? PrometheusConf(endpoint: StoreEndpoint(url: prometheus!))
        conf.endpoint.url = prometheus!.hasSuffix("/") ? String(prometheus!.dropLast()) : prometheus!
        let stepMs = Int64(((step ?? p.prometheus?.stepSeconds ?? conf.scrapeInterval) * 1000).rounded())
        guard stepMs > 0 else { throw UserFacingError("--step must be positive") }
        let series = try PrometheusQueries.table(conf, queries: queries, startMs: startMs, endMs: endMs, stepMs: stepMs)
        guard !series.timestamps.isEmpty else { throw UserFacingError("the store has no points for \(queries) between --start and --end") }
        let table = MetricTable(timestamps: series.timestamps, values: Tensor(shape: [series.timestamps.count, queries.count], scalars: series.values),
                                metrics: p.metrics)
        return OfflinePipeline(config: cfg, stream: stream, pipeline: p, table: table)
    }
}

/// The store's queries for offline commands (a build without the Prometheus trait says so).
enum PrometheusQueries {
    static func restrict(_ query: String, names: [String], values: [String]) -> String {
        #if Prometheus
        PrometheusHistory.restrict(query, names: names, values: values)
        #else
        query
        #endif
    }

    static func table(_ conf: PrometheusConf, queries: [String], startMs: Int64, endMs: Int64, stepMs: Int64) throws -> HistorySeries {
        #if Prometheus
        do {
            let source = try PrometheusHistory(conf, metrics: StoreMetrics(registry: PrometheusCollectorRegistry()), logger: Logger(label: "aeflow.prometheus"))
            defer { source.client.shutdown() }
            return try source.table(queries: queries, startMs: startMs, endMs: endMs, stepMs: stepMs)
        } catch { throw UserFacingError("metrics store \(conf.endpoint.url): \(error)") }
        #else
        throw UserFacingError("this aeflow was built without the Prometheus trait: --prometheus needs it")
        #endif
    }
}
