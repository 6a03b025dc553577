import Foundation
import Logging
import Prometheus
import PromStore
import Retrain
import Stage
import Testing
import TestSupport
import TensorCore

/// The retrain stage's catch-up after downtime, against a real VictoriaMetrics (its Prometheus query API): a history
/// file that stopped 120 steps before the store did is completed from the store when the stage starts, the rows it
/// had are kept (same values, replaced), and a failing store is counted without stopping the stage.
@Suite("Prometheus catch-up: a restarted retrain stage fills its history's gap from the store", .serialized)
struct PrometheusCatchUpTests {
    @Test func theGapAfterDowntimeIsReadFromTheStore() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-catchup")
        let vm = try MetricsServer(.victoriaMetrics, dataDir: dir.file("vm"))
        let step: Int64 = 1000
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        let end = nowMs - nowMs % step
        // The store has 300 steps of keys a, b and c; the history file (the stage before its downtime) the first 180 of
        // a's.
        var text = "", rows: [HistoryRow] = []
        for i in 0..<300 {
            let t = end - Int64(299 - i) * step
            for host in ["a", "b", "c"] { text += "cpu{host=\"\(host)\"} \(Float(i)) \(t)\nmem{host=\"\(host)\"} \(Float(2 * i)) \(t)\n" }
            if i < 180 { rows.append(HistoryRow(pipelineID: "default", key: ["a"], timestamp: t, values: [Float(i), Float(2 * i)])) }
        }
        try vm.importPrometheusText(text)
        #expect(try eventually(within: 20) {
            let n = try vm.api("/api/v1/query", [("query", "count_over_time(mem{host=\"a\"}[30m])"), ("time", String(end / 1000))])
            return n["result"]?[0]?["value"]?[1]?.stringValue == "300"
        }, "VictoriaMetrics does not answer the imported history")
        let yaml = """
            store: {path: "\(dir.file("models"))"}
            history: {path: "\(dir.file("history.sqlite"))"}
            retrain: {scan_interval_s: 0.05}
            prometheus_conf: {url: "\(vm.url)", scrape_interval: 1, timeout_s: 2, max_samples_per_query: 300}
            stream_confs:
              default:
                source: prometheus
                window_size: 12
                composite_keys: [host]
                ml_pipelines:
                  default:
                    metrics: [cpu, mem]
                    numalogic_conf:
                      model: {name: VanillaAE, conf: {seq_len: 12, n_features: 2}}
                      trainer: {min_train_size: 1000, retry_sec: 3600}
            """
        try yaml.write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        let cfg = try AEFlowConfig.load(path: dir.file("cfg.yaml"))
        let logger = Logger(label: "test")
        do {
            let before = try HistoryStore(path: cfg.history.path, maxRowsPerKey: cfg.history.maxRowsPerKey)
            _ = try before.append(rows)
        }
        let metrics = RetrainMetrics()
        let stage = try RetrainStage(config: cfg, logger: logger, metrics: metrics)
        stage.historySource = try PrometheusHistory(try #require(cfg.prometheus), metrics: StoreMetrics(registry: metrics.registry), logger: logger)
        try stage.start(sockets: false)
        defer { stage.stop() }
        #expect(eventually(within: 20) { LocalHTTP.sample("aeflow_history_backfills_total{outcome=\"ok\"}", in: String(decoding: metrics.exposition(), as: UTF8.self)) >= 1 })
        let series = try #require(try stage.history.series(pipeline: "default", key: ["a"], spanMs: nil, limit: 10_000))
        // Every step of the store is in the history now, in order, with the store's values (the old rows unchanged).
        // After the last sample the query API holds its value for a few steps (PromQL's lookback; VictoriaMetrics'
        // staleness): those rows repeat it.
        let n = series.count
        #expect(n >= 300 && n <= 305, "\(n) rows")
        #expect(Array(series.timestamps.prefix(300)) == (0..<300).map { end - Int64(299 - $0) * step })
        var expected: [Float] = []
        for i in 0..<300 { expected += [Float(i), Float(2 * i)] }
        for _ in 300..<max(n, 300) { expected += [299, 598] }
        let differ = zip(series.values, expected).enumerated().filter { $0.element.0 != $0.element.1 }.prefix(4).map { "\($0.offset): \($0.element)" }
        #expect(series.values == expected, "\(series.values.count) values; first differences \(differ)")
        // b and c came whole too, through pages of at most 300 samples (3 keys counted first: 100 steps a page).
        for k in ["b", "c"] {
            let other = try #require(try stage.history.series(pipeline: "default", key: [k], spanMs: nil, limit: 10_000))
            #expect(other.timestamps == series.timestamps && other.values == series.values, "\(k)")
        }
        let exposition = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(LocalHTTP.sample("aeflow_history_backfilled_rows_total", in: exposition) == Double(3 * n))
        // Every row's 2 metrics × 3 keys, plus the coarse query that counted the series (3 keys) before paging.
        let points = LocalHTTP.sample("aeflow_history_fetch_points_total", in: exposition)
        #expect(points >= Double(6 * n) && points <= Double(6 * n + 3 * 101), "\(points)")
        #expect(LocalHTTP.sample("aeflow_history_fetch_requests_total{outcome=\"ok\"}", in: exposition) >= 7)
    }

    @Test func aStoreThatFailsIsCountedAndTheStageRuns() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-catchup")
        let vm = try MetricsServer(.victoriaMetrics, dataDir: dir.file("vm"))
        // A query VictoriaMetrics refuses (it is not PromQL): HTTP 422, not retried.
        let yaml = """
            store: {path: "\(dir.file("models"))"}
            history: {path: "\(dir.file("history.sqlite"))"}
            prometheus_conf: {url: "\(vm.url)", scrape_interval: 1, timeout_s: 2}
            stream_confs:
              default:
                source: prometheus
                composite_keys: [host]
                ml_pipelines:
                  default:
                    metrics: [cpu]
                    prometheus: {queries: {cpu: "cpu{{"}}
                    numalogic_conf: {model: {name: VanillaAE, conf: {seq_len: 12, n_features: 1}}}
            """
        try yaml.write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        let cfg = try AEFlowConfig.load(path: dir.file("cfg.yaml"))
        let metrics = RetrainMetrics()
        let stage = try RetrainStage(config: cfg, logger: Logger(label: "test"), metrics: metrics)
        stage.historySource = try PrometheusHistory(try #require(cfg.prometheus), metrics: StoreMetrics(registry: metrics.registry), logger: Logger(label: "test"))
        try stage.start(sockets: false)
        defer { stage.stop() }
        #expect(eventually(within: 20) { LocalHTTP.sample("aeflow_history_backfills_total{outcome=\"failed\"}", in: String(decoding: metrics.exposition(), as: UTF8.self)) == 1 })
        let exposition = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(LocalHTTP.sample("aeflow_history_fetch_requests_total{outcome=\"client_error\"}", in: exposition) == 1)
        #expect(LocalHTTP.sample("aeflow_history_fetch_retries_total", in: exposition) == 0)
        #expect(stage.isReady)
    }
}
