import Foundation
@testable import PromStore
import Scoring
import Stage
import Testing
import TestSupport
import TensorCore

// Issue 16: history from, and scores into, real Prometheus and VictoriaMetrics servers (Debian's packages, started
// by the tests; `make test-servers` installs them). `swift test --filter Prometheus`, `--filter VictoriaMetrics` and
// `--filter RemoteWrite` run these suites alone.

/// Store history for key `host`: `rows` steps of two seasonal metrics ending at `endMs` (OpenMetrics for promtool,
/// seconds; Prometheus text for VictoriaMetrics' import, ms), and the same rows as CSV.
struct StoreHistory {
    var timestamps: [Int64] = []
    var cpu: [String] = []
    var mem: [String] = []

    init(rows: Int, endMs: Int64, stepMs: Int64, seed: UInt64 = 3) {
        var rng = RandomGenerator(seed: seed)
        for i in 0..<rows {
            let r = DaemonHarness.row(i, noise: &rng)
            timestamps.append(endMs - Int64(rows - 1 - i) * stepMs)
            cpu.append(String(format: "%.4f", r.cpu))
            mem.append(String(format: "%.4f", r.mem))
        }
    }

    func openMetrics(host: String) -> String {
        var lines = ["# TYPE cpu gauge"]
        for (t, v) in zip(timestamps, cpu) { lines.append("cpu{host=\"\(host)\"} \(v) \(Double(t) / 1000)") }
        lines.append("# TYPE mem gauge")
        for (t, v) in zip(timestamps, mem) { lines.append("mem{host=\"\(host)\"} \(v) \(Double(t) / 1000)") }
        return lines.joined(separator: "\n") + "\n# EOF\n"
    }

    func prometheusText(host: String) -> String {
        zip(timestamps, zip(cpu, mem)).map { "cpu{host=\"\(host)\"} \($1.0) \($0)\nmem{host=\"\(host)\"} \($1.1) \($0)" }.joined(separator: "\n") + "\n"
    }

    var csv: String { "timestamp,cpu,mem\n" + zip(timestamps, zip(cpu, mem)).map { "\($0),\($1.0),\($1.1)" }.joined(separator: "\n") + "\n" }
}

/// Streamed points for `host` at the given times (values continuing the history's pattern).
func storePoints(host: String, timestamps: [Int64]) -> [String] {
    var rng = RandomGenerator(seed: 99)
    return timestamps.enumerated().map { i, t in
        let r = DaemonHarness.row(400 + i, noise: &rng)
        return "{\"key\":\"\(host)\",\"timestamp\":\(t),\"metrics\":{\"cpu\":\(r.cpu),\"mem\":\(r.mem)}}"
    }
}


/// The outputs' scores against the store's samples of the written-back series: every scored output's
/// `unified_anomaly`, per-metric scores and `is_anomaly` are in the store at its timestamp, exactly (float32 values
/// through float64); nothing else is.
func expectWrittenBack(_ outputs: [JSONObject], in server: MetricsServer, host: String) throws {
    let scored = outputs.filter { $0["metadata"]?["status"]?.stringValue == "scored" }
    let at = (scored.compactMap { $0["timestamp"]?.intValue }.max() ?? 0) + 1000
    func series(_ selector: String) throws -> [Int64: Double] {
        let all = try server.rawSamples(selector, minutes: 60, at: at)
        #expect(all.count == 1, "\(selector): \(all.keys)")
        return Dictionary(all.values.first ?? [], uniquingKeysWith: { $1 })
    }
    let score = try series("aeflow_anomaly_score{pipeline=\"default\",host=\"\(host)\"}")
    let cpu = try series("aeflow_metric_score{pipeline=\"default\",host=\"\(host)\",metric=\"cpu\"}")
    let mem = try series("aeflow_metric_score{pipeline=\"default\",host=\"\(host)\",metric=\"mem\"}")
    let anomaly = try series("aeflow_is_anomaly{pipeline=\"default\",host=\"\(host)\"}")
    #expect(score.count == scored.count && cpu.count == scored.count && mem.count == scored.count && anomaly.count == scored.count)
    for o in scored {
        let t = try #require(o["timestamp"]?.intValue)
        let data = try #require(o["data"]?.objectValue)
        #expect(score[t].map(Float.init) == o["unified_anomaly"]?.doubleValue.map(Float.init), "score at \(t)")
        #expect(cpu[t].map(Float.init) == data["cpu"]?.doubleValue.map(Float.init), "cpu score at \(t)")
        #expect(mem[t].map(Float.init) == data["mem"]?.doubleValue.map(Float.init), "mem score at \(t)")
        #expect(anomaly[t] == ((o["metadata"]?["is_anomaly"]?.boolValue ?? false) ? 1 : 0), "is_anomaly at \(t)")
    }
}

/// Whether the daemon has loaded a model for `key` (`/v1/models` lists keys it looked up, ready or not).
func modelReady(_ d: DaemonHarness, _ key: String) throws -> Bool {
    let models = try JSONValue.parse(try d.http("GET", "/v1/models").1)["models"]?.arrayValue ?? []
    return models.contains { $0["key"] == .array([.string(key)]) && $0["status"]?.stringValue == "ready" }
}

/// Waits until the store answers `count` samples of the key's written-back score (VictoriaMetrics makes new samples
/// searchable within a second; a flush asks it to at once).
func waitForScores(_ count: Int, in server: MetricsServer, host: String, outputs: [JSONObject]) throws {
    let at = (outputs.compactMap { $0["timestamp"]?.intValue }.max() ?? 0) + 1000
    if case .victoriaMetrics = server.kind { _ = try LocalHTTP.request(port: server.port, "GET", "/internal/force_flush") }
    let found = try eventually(within: 20) {
        try server.rawSamples("aeflow_anomaly_score{pipeline=\"default\",host=\"\(host)\"}", minutes: 60, at: at).values.first?.count == count
    }
    #expect(found, "the store does not answer \(count) scores of \(host)")
}

/// The `prometheus_conf`/`remote_write` part of a test config.
func storeConfig(history: String?, write: String?, writeExtra: String = "", historyExtra: String = "", historyTimeout: Double = 2,
                 flushMs: Int = 50) -> String {
    var s = ""
    if let history { s += "prometheus_conf: {url: \"\(history)\", scrape_interval: 1, timeout_s: \(historyTimeout), retries: 1, min_backoff_ms: 10\(historyExtra)}\n" }
    if let write { s += "remote_write: {url: \"\(write)\", flush_interval_ms: \(flushMs)\(writeExtra)}\n" }
    return s
}

@Suite("Prometheus: history from the store, scores written back, backtests from the store", .serialized)
struct PrometheusStoreTests {
    @Test func aColdDaemonTrainsAKeyFromTheStoreScoresItsFirstWindowAndWritesItsScoresBack() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-prom")
        let step: Int64 = 1000
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        let end = nowMs - nowMs % step
        let history = StoreHistory(rows: 400, endMs: end, stepMs: step)
        try MetricsServer.createBlocks(openMetrics: history.openMetrics(host: "h1"), dataDir: dir.file("prom"))
        let prom = try MetricsServer(.prometheus(remoteWriteReceiver: true), dataDir: dir.file("prom"))
        // No point of h1 is streamed before its model: the retrain stage reads the store at start (catch-up), trains,
        // and the daemon fills h1's window from the store, so the first streamed point is already a full window.
        let d = try DaemonHarness(extraConfig: storeConfig(history: prom.url, write: prom.writeURL),
                                  streamExtra: "source: prometheus", trainer: "min_train_size: 300, retry_sec: 3600, pltrainer_conf: {max_epochs: 5}",
                                  arguments: ["--with-retrain"])
        #expect(try eventually(within: 120) { try modelReady(d, "h1") }, "no model for h1 from the store's history: \(d.daemon.stderrLines.filter { $0.contains("retrain") || $0.contains("store") }.suffix(8))")
        #expect(d.daemon.stderrLines.contains { $0.contains("windows filled from the metrics store") && $0.contains("rows=12") })
        let start = Int64(Date().timeIntervalSince1970 * 1000) / step * step + step
        let outputs = try d.stream(storePoints(host: "h1", timestamps: (0..<20).map { start + Int64($0) * step }), expect: 20)
        #expect(outputs.count == 20)
        #expect(outputs.allSatisfy { $0["metadata"]?["status"]?.stringValue == "scored" }, "\(outputs.map { $0["metadata"]?["status"]?.stringValue ?? "-" })")
        #expect(try d.metric("aeflow_history_backfills_total{outcome=\"ok\"}") >= 1)
        #expect(try d.metric("aeflow_history_backfilled_rows_total") >= 400)
        // 20 points × (score, is_anomaly, 2 metric scores).
        #expect(try d.metric("aeflow_remote_write_samples_sent_total", reaching: 80, within: 20) == 80)
        try expectWrittenBack(outputs, in: prom, host: "h1")
        #expect(d.stop() == 0)

        // A backtest straight from the store gives what the same rows give from a CSV file.
        try history.csv.write(toFile: dir.file("h1.csv"), atomically: true, encoding: .utf8)
        let fromStore = try Subprocess.aeflow(["backtest", "--config", d.dir.file("cfg.yaml"), "--prometheus", prom.url, "--key", "h1",
                                               "--start", String(Double(history.timestamps[0]) / 1000), "--end", String(Double(end) / 1000),
                                               "--train-after", "300"])
        let fromCSV = try Subprocess.aeflow(["backtest", "--config", d.dir.file("cfg.yaml"), "--input", dir.file("h1.csv"), "--train-after", "300"])
        #expect(fromStore.status == 0, "\(fromStore.stderr)")
        #expect(fromCSV.status == 0, "\(fromCSV.stderr)")
        let a = fromStore.stdout.split(separator: "\n"), b = fromCSV.stdout.split(separator: "\n")
        #expect(a.count == 401 && a.count == b.count)
        #expect(a.first == b.first)
        // Timestamps and every score column equal; the value cells are the same numbers (the CSV repeats its text).
        for (x, y) in zip(a.dropFirst(), b.dropFirst()) {
            let (p, q) = (x.split(separator: ",", omittingEmptySubsequences: false), y.split(separator: ",", omittingEmptySubsequences: false))
            #expect(p[0] == q[0] && Float(p[1]) == Float(q[1]) && Float(p[2]) == Float(q[2]) && p.dropFirst(3) == q.dropFirst(3), "\(x) vs \(y)")
        }
        // A query that names several series is refused with their labels.
        let ambiguous = try Subprocess.aeflow(["backtest", "--prometheus", prom.url, "--query", "{__name__=~\"cpu|mem\"}",
                                               "--start", String(Double(history.timestamps[0]) / 1000), "--end", String(Double(end) / 1000)])
        #expect(ambiguous.status != 0 && ambiguous.stderr.contains("answers with 2 series"), "\(ambiguous.stderr)")
    }
}

extension PrometheusStoreTests {
    /// A Prometheus that wants TLS and basic auth (its `--web.config.file`): history and remote write with the
    /// configured credentials and CA work; without the credentials the store answers 401 and says so.
    @Test func historyAndWriteBackOverTLSWithBasicAuth() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-prom-tls")
        let cert = dir.file("cert.pem"), key = dir.file("key.pem")
        let made = try Subprocess.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                                                           "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        #expect(made.status == 0, "\(made.stderr)")
        let step: Int64 = 1000
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        let end = nowMs - nowMs % step
        let history = StoreHistory(rows: 400, endMs: end, stepMs: step, seed: 8)
        try MetricsServer.createBlocks(openMetrics: history.openMetrics(host: "s1"), dataDir: dir.file("prom"))
        // bcrypt of "aeflow-test-password" (4 rounds), as Prometheus's web configuration takes it.
        let web = """
            tls_server_config: {cert_file: \(cert), key_file: \(key)}
            basic_auth_users: {aeflow: $2b$04$lOtHGCWukYmrMMXLO1UGp.MDI3KEdvOXsp3H12Q2rBe4DyvvgBfqy}
            """
        let prom = try MetricsServer(.prometheus(remoteWriteReceiver: true), dataDir: dir.file("prom"), webConfig: web, tls: true)
        #expect(prom.url.hasPrefix("https://"))
        let auth = ", basic_auth: {username: aeflow, password: aeflow-test-password}, tls: {ca_file: \"\(cert)\"}"
        let d = try DaemonHarness(extraConfig: storeConfig(history: prom.url, write: prom.writeURL, writeExtra: auth, historyExtra: auth),
                                  streamExtra: "source: prometheus", trainer: "min_train_size: 300, retry_sec: 3600, pltrainer_conf: {max_epochs: 5}",
                                  arguments: ["--with-retrain"])
        #expect(try eventually(within: 120) { try modelReady(d, "s1") },
                "no model for s1: \(d.daemon.stderrLines.filter { $0.contains("store") || $0.contains("retrain") }.suffix(6))")
        let start = Int64(Date().timeIntervalSince1970 * 1000) / step * step + step
        let outputs = try d.stream(storePoints(host: "s1", timestamps: (0..<5).map { start + Int64($0) * step }), expect: 5)
        #expect(outputs.allSatisfy { $0["metadata"]?["status"]?.stringValue == "scored" })
        #expect(try d.metric("aeflow_remote_write_samples_sent_total", reaching: 20, within: 20) == 20)
        #expect(try d.metric("aeflow_history_fetch_requests_total{outcome=\"client_error\"}") == 0)
        #expect(d.stop() == 0)
        // The same store without credentials: refused, and the refusal named.
        let noAuth = dir.file("noauth.yaml")
        try (DaemonHarness.config(store: dir.file("models"), extra: "prometheus_conf: {url: \"\(prom.url)\", scrape_interval: 1, tls: {ca_file: \"\(cert)\"}}",
                                  streamExtra: "source: prometheus")).write(toFile: noAuth, atomically: true, encoding: .utf8)
        let args = ["--key", "s1", "--start", String(Double(history.timestamps[0]) / 1000), "--end", String(Double(end) / 1000), "--train-after", "300"]
        let refused = try Subprocess.aeflow(["backtest", "--config", noAuth, "--prometheus", prom.url] + args)
        #expect(refused.status != 0 && refused.stderr.contains("HTTP 401"), "\(refused.stderr)")
        let allowed = try Subprocess.aeflow(["backtest", "--config", d.dir.file("cfg.yaml"), "--prometheus", prom.url] + args)
        #expect(allowed.status == 0 && allowed.stdout.split(separator: "\n").count == 401, "\(allowed.stderr)")
    }
}

@Suite("VictoriaMetrics: history from its import API, scores written back by remote write", .serialized)
struct VictoriaMetricsStoreTests {
    @Test func aColdDaemonTrainsFromVictoriaMetricsAndWritesItsScoresBack() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-vm")
        let vm = try MetricsServer(.victoriaMetrics, dataDir: dir.file("vm"))
        let step: Int64 = 1000
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        let end = nowMs - nowMs % step
        let history = StoreHistory(rows: 400, endMs: end, stepMs: step, seed: 5)
        try vm.importPrometheusText(history.prometheusText(host: "v1"))
        #expect(try eventually(within: 20) {
            let n = try vm.api("/api/v1/query", [("query", "count_over_time(cpu{host=\"v1\"}[30m])"), ("time", String(end / 1000))])
            return n["result"]?[0]?["value"]?[1]?.stringValue == "400"
        }, "VictoriaMetrics does not answer the imported history")
        let d = try DaemonHarness(extraConfig: storeConfig(history: vm.url, write: vm.writeURL),
                                  streamExtra: "source: prometheus", trainer: "min_train_size: 300, retry_sec: 3600, pltrainer_conf: {max_epochs: 5}",
                                  arguments: ["--with-retrain"])
        #expect(try eventually(within: 120) { try modelReady(d, "v1") }, "no model for v1 from the store's history")
        let start = Int64(Date().timeIntervalSince1970 * 1000) / step * step + step
        let outputs = try d.stream(storePoints(host: "v1", timestamps: (0..<19).map { start + Int64($0) * step }), expect: 19)
        // The window was filled from the store: the first point is a full window, scored.
        #expect(outputs.map { $0["metadata"]?["status"]?.stringValue ?? "-" } == Array(repeating: "scored", count: 19))
        #expect(try d.metric("aeflow_remote_write_samples_sent_total", reaching: 76, within: 20) == 76)
        try waitForScores(19, in: vm, host: "v1", outputs: outputs)
        try expectWrittenBack(outputs, in: vm, host: "v1")

        // A key that appears after the start: its first full window asks for a model, the retrain stage finds too
        // few rows, reads the key's history from the store, and trains it; its next points are scored.
        let now2 = Int64(Date().timeIntervalSince1970 * 1000)
        try vm.importPrometheusText(StoreHistory(rows: 400, endMs: now2 - now2 % step, stepMs: step, seed: 6).prometheusText(host: "v2"))
        let start2 = now2 - now2 % step + step
        let warm = try d.stream(storePoints(host: "v2", timestamps: (0..<12).map { start2 + Int64($0) * step }), expect: 12)
        #expect(warm.map { $0["metadata"]?["status"]?.stringValue ?? "-" } == Array(repeating: "warming_up", count: 11) + ["model_not_ready"])
        #expect(try eventually(within: 120) { try modelReady(d, "v2") },
                "no model for v2: \(d.daemon.stderrLines.filter { $0.contains("retrain") || $0.contains("store") }.suffix(6))")
        #expect(d.daemon.stderrLines.contains { $0.contains("history read from the metrics store") && $0.contains("key=v2") })
        let later = try d.stream(storePoints(host: "v2", timestamps: (12..<17).map { start2 + Int64($0) * step }), expect: 5)
        #expect(later.allSatisfy { $0["metadata"]?["status"]?.stringValue == "scored" })
        #expect(try d.metric("aeflow_history_backfills_total{outcome=\"ok\"}") >= 2)
        #expect(d.stop() == 0)
    }
}

@Suite("RemoteWrite: failures are counted and retried, and the ZeroMQ output loses nothing", .serialized)
struct RemoteWriteFailureTests {
    /// Two keys with models, 60 points each.
    static func traffic() -> [String] {
        var rng = RandomGenerator(seed: 7)
        let base = Int64(Date().timeIntervalSince1970 * 1000) / 1000 * 1000 - 120_000
        return (0..<60).flatMap { i -> [String] in
            let r = DaemonHarness.row(i, noise: &rng)
            return ["h1", "h2"].map { "{\"key\":\"\($0)\",\"timestamp\":\(base + Int64(i) * 1000),\"metrics\":{\"cpu\":\(r.cpu),\"mem\":\(r.mem)}}" }
        }
    }

    static func publish(_ store: CheckpointStore) throws { try DaemonHarness.publishModel(store: store, keys: [["h1"], ["h2"]]) }

    /// A port that refuses connections: bound (so nothing else takes it) and never listening.
    final class RefusingPort {
        let fd: Int32
        let port: Int
        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
            port = Int(UInt16(bigEndian: a.sin_port))
        }
        deinit { close(fd) }
    }

    @Test func aStoreThatIsDownIsCountedAndScoringGoesOn() throws {
        let down = try RefusingPort()
        let url = "http://127.0.0.1:\(down.port)"
        // Write-back and history both point at it; a 40-sample queue also drops what does not fit. Batches go at most
        // once a second (the batch size, 2,000, is never reached), so the 392 samples of one stream overflow the queue
        // even when a busy machine scores them slowly.
        let d = try DaemonHarness(extraConfig: storeConfig(history: url, write: url + "/api/v1/write",
                                                           writeExtra: ", timeout_s: 0.3, retries: 2, min_backoff_ms: 5, max_backoff_ms: 20, queue_capacity: 40",
                                                           historyTimeout: 0.3, flushMs: 1000),
                                  streamExtra: "source: prometheus", arguments: ["--with-retrain"], prepare: Self.publish)
        let outputs = try d.stream(Self.traffic(), expect: 120)
        #expect(outputs.count == 120)
        #expect(outputs.filter { $0["metadata"]?["status"]?.stringValue == "scored" }.count == 98, "\(Set(outputs.map { $0["metadata"]?["status"]?.stringValue ?? "-" })) \(d.daemon.stderrLines.suffix(8))")   // 11 warming points per key
        let sent = try d.metric("aeflow_remote_write_samples_sent_total")
        #expect(sent == 0)
        #expect(try d.metric("aeflow_remote_write_requests_total{outcome=\"unreachable\"}", reaching: 3, within: 10) >= 3)
        #expect(try d.metric("aeflow_remote_write_retries_total") >= 2)
        #expect(try d.metric("aeflow_remote_write_samples_dropped_total{reason=\"retries_exhausted\"}", reaching: 4, within: 10) >= 4)
        // Every sample is accounted for: sent, dropped (queue full or failed), or still queued.
        let produced = 98.0 * 4
        var last = (full: -1.0, failed: -1.0, queued: -1.0)
        #expect(try eventually(within: 10) {
            last = (try d.metric("aeflow_remote_write_samples_dropped_total{reason=\"queue_full\"}"),
                    try d.metric("aeflow_remote_write_samples_dropped_total{reason=\"retries_exhausted\"}"),
                    try d.metric("aeflow_remote_write_queue_samples"))
            return last.full > 0 && last.full + last.failed + last.queued == produced
        }, "dropped as queue full + dropped after retries + queued should be \(produced): \(last)")
        // The history source: the catch-up at start failed and was counted.
        #expect(try d.metric("aeflow_history_backfills_total{outcome=\"failed\"}", reaching: 1, within: 10) >= 1)
        #expect(try d.metric("aeflow_history_fetch_requests_total{outcome=\"unreachable\"}") >= 1)
        #expect(d.stop() == 0)
    }

    @Test func aStoreThatRefusesWritesIsCountedAndNotRetried() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-rw")
        // Prometheus without its remote-write receiver answers 404.
        let prom = try MetricsServer(.prometheus(remoteWriteReceiver: false), dataDir: dir.file("prom"))
        let d = try DaemonHarness(extraConfig: storeConfig(history: nil, write: prom.writeURL), prepare: Self.publish)
        let outputs = try d.stream(Self.traffic(), expect: 120)
        #expect(outputs.count == 120)
        #expect(try d.metric("aeflow_remote_write_samples_dropped_total{reason=\"rejected\"}", reaching: 392, within: 10) == 392)
        #expect(try d.metric("aeflow_remote_write_requests_total{outcome=\"client_error\"}") >= 1)
        #expect(try d.metric("aeflow_remote_write_retries_total") == 0)
        #expect(try d.metric("aeflow_remote_write_samples_sent_total") == 0)
        #expect(d.stop() == 0)
    }

    @Test func aStoppedStoreTimesOutIsRetriedAndHasEveryScoreOnceItAnswers() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-rw")
        let prom = try MetricsServer(.prometheus(remoteWriteReceiver: true), dataDir: dir.file("prom"))
        let d = try DaemonHarness(extraConfig: storeConfig(history: nil, write: prom.writeURL,
                                                           writeExtra: ", timeout_s: 0.3, retries: 100, min_backoff_ms: 20, max_backoff_ms: 100"),
                                  prepare: Self.publish)
        prom.pause()
        let outputs = try d.stream(Self.traffic(), expect: 120)
        // Scoring went on while the store did not answer.
        #expect(outputs.count == 120)
        #expect(try d.metric("aeflow_remote_write_requests_total{outcome=\"timeout\"}", reaching: 2, within: 10) >= 2)
        #expect(try d.metric("aeflow_remote_write_samples_sent_total") == 0)
        #expect(try d.metric("aeflow_remote_write_retries_total") >= 2)
        prom.resume()
        // Every sample reaches the store. A request that timed out may still be read once the server answers again;
        // its retry then meets samples already written and is refused (400, out of order): counted as rejected, as the
        // remote-write spec has it, with the samples in the store all the same.
        #expect(try eventually(within: 30) {
            try d.metric("aeflow_remote_write_samples_sent_total") + d.metric("aeflow_remote_write_samples_dropped_total{reason=\"rejected\"}") == 392
        })
        #expect(try d.metric("aeflow_remote_write_samples_dropped_total{reason=\"retries_exhausted\"}") == 0)
        for host in ["h1", "h2"] {
            let mine = outputs.filter { $0["composite_keys"]?[0]?.stringValue == host }
            try waitForScores(49, in: prom, host: host, outputs: mine)
            try expectWrittenBack(mine, in: prom, host: host)
        }
        #expect(d.stop() == 0)
    }
}

@Suite("Prometheus queries and remote-write encoding (units)")
struct PrometheusQueryTests {
    @Test func aKeyIsAddedToPlainSelectorsOnly() {
        #expect(PrometheusHistory.restrict("cpu", names: ["host"], values: ["a"]) == "cpu{host=\"a\"}")
        #expect(PrometheusHistory.restrict("cpu{job=\"n\"}", names: ["ns", "app"], values: ["x", "y\"z"]) == "cpu{job=\"n\",ns=\"x\",app=\"y\\\"z\"}")
        #expect(PrometheusHistory.restrict("{__name__=\"cpu\"}", names: ["host"], values: ["a"]) == "{__name__=\"cpu\",host=\"a\"}")
        #expect(PrometheusHistory.restrict("rate(x[5m])", names: ["host"], values: ["a"]) == "rate(x[5m])")
        #expect(PrometheusHistory.restrict("sum by (host) (x{a=\"1\"})", names: ["host"], values: ["a"]) == "sum by (host) (x{a=\"1\"})")
    }

    @Test func rangesArePagedWithinThePointLimitOnStepInstants() {
        let p = PrometheusHistory.pages(startMs: 1_500, endMs: 30_000, stepMs: 1_000, maxPoints: 10)
        #expect(p.map(\.start) == [2_000, 12_000, 22_000])
        #expect(p.map(\.end) == [11_000, 21_000, 30_000])
        #expect(p.allSatisfy { ($0.end - $0.start) / 1_000 + 1 <= 10 })
        #expect(PrometheusHistory.pages(startMs: 5, endMs: 4, stepMs: 1, maxPoints: 10).isEmpty)
    }

    @Test func matrixAnswersAreReadAndOthersRefused() throws {
        let body = #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"host":"a"},"values":[[1700000000,"1.5"],[1700000001.5,"NaN"]]}]}}"#
        let s = try PrometheusHistory.parseMatrix(Array(body.utf8))
        #expect(s.count == 1 && s[0].labels == ["host": "a"] && s[0].timestamps == [1_700_000_000_000, 1_700_000_001_500])
        #expect(s[0].values[0] == 1.5 && s[0].values[1].isNaN)
        #expect(throws: StoreFailure.self) { try PrometheusHistory.parseMatrix(Array(#"{"status":"error","error":"bad"}"#.utf8)) }
        #expect(throws: StoreFailure.self) { try PrometheusHistory.parseMatrix(Array("<html>".utf8)) }
    }

    @Test func aWriteRequestHasSortedLabelsOneSeriesPerNameAndKeyAndSurvivesSnappy() throws {
        let s = (0..<3).map { i in
            ScoreSample(pipelineID: "p", keyNames: ["host", "pipeline"], key: ["a", "x"], timestamp: Int64(i) * 1000, score: Float(i),
                        metrics: ["cpu"], metricScores: [0.5], isAnomaly: i == 2)
        }
        let r = RemoteWriter.writeRequest(s, external: [("cluster", "c1")])
        #expect(r.timeseries.count == 3)
        for ts in r.timeseries {
            let names = ts.labels.map(\.name)
            #expect(names == names.sorted() && Set(names).count == names.count)
            #expect(names.contains("key_pipeline") && names.contains("cluster"))
            #expect(ts.samples.map(\.timestamp) == [0, 1000, 2000])
        }
        let score = try #require(r.timeseries.first { $0.labels.contains { $0.name == "__name__" && $0.value == RemoteWriter.scoreName } })
        #expect(score.samples.map(\.value) == [0, 1, 2])
        let anomaly = try #require(r.timeseries.first { $0.labels.contains { $0.value == RemoteWriter.anomalyName } })
        #expect(anomaly.samples.map(\.value) == [0, 0, 1])
        let bytes: [UInt8] = try r.serializedBytes()
        let compressed = try RemoteWriter.compress(bytes)
        #expect(compressed != bytes)
        #expect(RemoteWriter.decompress(compressed) == bytes)
        #expect(try Prometheus_WriteRequest(serializedBytes: RemoteWriter.decompress(compressed)!) == r)
    }

    @Test func storeConfigIsCheckedWithItsKeyPaths() throws {
        func load(_ yaml: String) throws -> AEFlowConfig { try AEFlowConfig.read(try YAMLDocument.parse(yaml, source: "t"), source: "t") }
        let stream = "stream_confs: {s: {source: prometheus, composite_keys: [host], ml_pipelines: {p: {metrics: [cpu], prometheus: {queries: {cpu: 'rate(x[1m])'}, step_s: 15}, numalogic_conf: {model: {name: VanillaAE, conf: {seq_len: 12, n_features: 1}}}}}}}"
        let c = try load("prometheus_conf: {url: 'http://p:9090/', scrape_interval: 30, basic_auth: {username: u, password: pw}}\nremote_write: {url: 'https://vm/api/v1/write', external_labels: {cluster: c1}}\n" + stream)
        #expect(c.prometheus?.endpoint.url == "http://p:9090" && c.prometheus?.endpoint.auth == .basic(username: "u", password: "pw"))
        #expect(c.streams[0].pipelines[0].prometheus == PrometheusSource(queries: ["rate(x[1m])"], stepSeconds: 15))
        #expect(c.remoteWrite?.externalLabels.first?.1 == "c1")
        #expect(throws: ConfigReadError(path: "stream_confs.s.source", reason: "is prometheus, but there is no prometheus_conf section to read history from")) {
            try load(stream)
        }
        #expect(throws: ConfigReadError.self) { try load("prometheus_conf: {url: 'p:9090'}") }
        #expect(throws: ConfigReadError.self) { try load("remote_write: {url: 'http://x', bearer_token: t, basic_auth: {username: u, password: p}}") }
        #expect(throws: ConfigReadError.self) { try load("remote_write: {url: 'http://x', external_labels: {'bad-name': v}}") }
        #expect(throws: ConfigReadError.self) { try load("prometheus_conf: {url: 'http://x'}\n" + stream.replacingOccurrences(of: "{cpu: 'rate(x[1m])'}", with: "{gpu: y}")) }
    }
}
