import Foundation
import TensorCore

/// A real Prometheus or VictoriaMetrics server (Debian's packages, installed by `make test-servers`) started for a
/// test in its own directory on a port the kernel chose (read from /proc, never fixed), with helpers for its query
/// API. Stopped (SIGTERM, then SIGKILL) when released.
public final class MetricsServer {
    public enum Kind: Sendable {
        /// `prometheus` with `--web.enable-remote-write-receiver` when `remoteWriteReceiver`.
        case prometheus(remoteWriteReceiver: Bool)
        case victoriaMetrics
    }

    public let kind: Kind
    public let process: LineProcess
    public let port: Int
    public let dataDir: String
    /// Whether it serves HTTPS (a `--web.config.file` with `tls_server_config`).
    public let tls: Bool
    public var url: String { "\(tls ? "https" : "http")://127.0.0.1:\(port)" }
    /// Where remote write goes.
    public var writeURL: String { url + "/api/v1/write" }

    public struct Failure: Error, CustomStringConvertible { public let description: String }

    public static var isInstalled: Bool {
        ["/usr/bin/prometheus", "/usr/bin/promtool", "/usr/bin/victoria-metrics"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts the server on `dataDir` (which may already hold blocks made by `promtool`) and waits until it answers
    /// its readiness endpoint. `webConfig` (Prometheus only) is the text of its `--web.config.file` (TLS, basic auth);
    /// with `tls` the readiness check is only that it listens (the test's plain HTTP client cannot ask).
    public init(_ kind: Kind, dataDir: String, webConfig: String? = nil, tls: Bool = false) throws {
        guard Self.isInstalled else { throw Failure(description: "prometheus/victoria-metrics are not installed: run `make test-servers`") }
        self.kind = kind
        self.dataDir = dataDir
        self.tls = tls
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        switch kind {
        case .prometheus(let receiver):
            let config = dataDir + "/prometheus.yml"
            try "global:\n  scrape_interval: 1h\n".write(toFile: config, atomically: true, encoding: .utf8)
            var web: [String] = []
            if let webConfig {
                try webConfig.write(toFile: dataDir + "/web.yml", atomically: true, encoding: .utf8)
                web = ["--web.config.file=\(dataDir)/web.yml"]
            }
            process = try LineProcess("/usr/bin/prometheus", ["--config.file=\(config)", "--storage.tsdb.path=\(dataDir)",
                                                               "--web.listen-address=127.0.0.1:0", "--log.level=warn"]
                                      + (receiver ? ["--web.enable-remote-write-receiver"] : []) + web)
        case .victoriaMetrics:
            // latencyOffset 0: points up to now are answered at once (the default hides the last 30 s).
            process = try LineProcess("/usr/bin/victoria-metrics", ["-storageDataPath=\(dataDir)", "-httpListenAddr=127.0.0.1:0",
                                                                     "-search.latencyOffset=0s", "-loggerLevel=WARN", "-retentionPeriod=100y"])
        }
        let deadline = Date(timeIntervalSinceNow: 30)
        var found: Int?
        while found == nil, Date() < deadline, process.process.isRunning {
            found = Self.listeningPort(pid: process.pid)
            if found == nil { Self.pause(0.05) }
        }
        guard let port = found else {
            let log = process.stderrLines.suffix(5).joined(separator: "\n")
            process.signal(SIGKILL)
            throw Failure(description: "\(kind) did not listen within 30 s: \(log)")
        }
        self.port = port
        if tls { return }
        let ready: String
        switch kind {
        case .prometheus: ready = "/-/ready"
        case .victoriaMetrics: ready = "/health"
        }
        while Date() < deadline {
            if let (status, _) = try? LocalHTTP.request(port: port, "GET", ready), status == 200 { return }
            Self.pause(0.05)
        }
        throw Failure(description: "\(kind) on port \(port) did not become ready within 30 s")
    }

    deinit { stop() }

    /// SIGTERM, then SIGKILL after 10 s.
    public func stop() {
        guard process.process.isRunning else { return }
        resume()
        process.signal(SIGTERM)
        process.waitForExit(timeout: 10)
    }

    /// Stops the server's process (SIGSTOP): connections are accepted by the kernel and never answered — a slow server.
    public func pause() { process.signal(SIGSTOP) }
    public func resume() { process.signal(SIGCONT) }

    static func pause(_ seconds: Double) { _ = DispatchSemaphore(value: 0).wait(timeout: .now() + seconds) }

    /// The TCP port `pid` listens on (its only listening socket), from /proc.
    public static func listeningPort(pid: Int32) -> Int? {
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return nil }
        var inodes = Set<String>()
        for fd in fds {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
               target.hasPrefix("socket:[") { inodes.insert(String(target.dropFirst(8).dropLast())) }
        }
        for table in ["/proc/\(pid)/net/tcp", "/proc/\(pid)/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ")
                guard f.count > 9, f[3] == "0A", inodes.contains(String(f[9])),
                      let port = f[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) }) else { continue }
                return port
            }
        }
        return nil
    }

    /// `GET` on the query API; the `data` of a `success` answer.
    public func api(_ path: String, _ parameters: [(String, String)]) throws -> JSONValue {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let q = parameters.map { "\($0)=\($1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
        let (status, body) = try LocalHTTP.request(port: port, "GET", "\(path)?\(q)")
        guard status == 200, let root = try? JSONValue.parse(body), root["status"]?.stringValue == "success", let data = root["data"] else {
            throw Failure(description: "\(path) \(parameters): HTTP \(status): \(body.prefix(300))")
        }
        return data
    }

    /// The raw samples of every series `selector` matches in the `minutes` before `at` (epoch ms): by the series'
    /// labels, (timestamp ms, value) pairs oldest first.
    public func rawSamples(_ selector: String, minutes: Int, at: Int64) throws -> [[String: String]: [(Int64, Double)]] {
        let data = try api("/api/v1/query", [("query", "\(selector)[\(minutes)m]"), ("time", String(format: "%.3f", Double(at) / 1000))])
        var out: [[String: String]: [(Int64, Double)]] = [:]
        for s in data["result"]?.arrayValue ?? [] {
            var labels: [String: String] = [:]
            for (k, v) in s["metric"]?.objectValue ?? JSONObject() { labels[k] = v.stringValue }
            out[labels] = (s["values"]?.arrayValue ?? []).compactMap { p in
                guard let a = p.arrayValue, a.count == 2, let t = a[0].doubleValue, let v = a[1].stringValue.flatMap(Double.init) else { return nil }
                return (Int64((t * 1000).rounded()), v)
            }
        }
        return out
    }

    /// Loads history: Prometheus from OpenMetrics text through `promtool tsdb create-blocks-from openmetrics` into a
    /// data directory (before the server starts on it); VictoriaMetrics through its import API.
    public static func createBlocks(openMetrics text: String, dataDir: String) throws {
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let file = dataDir + "/../history.om"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try Subprocess.run("/usr/bin/promtool", ["tsdb", "create-blocks-from", "openmetrics", file, dataDir])
        guard r.status == 0 else { throw Failure(description: "promtool: \(r.stderr)") }
    }

    /// VictoriaMetrics' `/api/v1/import/prometheus` (text exposition with ms timestamps), then a flush so queries see it.
    public func importPrometheusText(_ text: String) throws {
        let (status, body) = try LocalHTTP.request(port: port, "POST", "/api/v1/import/prometheus", body: text)
        guard status == 204 || status == 200 else { throw Failure(description: "import: HTTP \(status): \(body)") }
        _ = try LocalHTTP.request(port: port, "GET", "/internal/force_flush")
    }
}

extension JSONValue {
    /// The value of `key` in an object (nil for anything else), for reading answers in tests.
    public subscript(key: String) -> JSONValue? { objectValue?[key] }
    /// The `i`th item of an array (nil for anything else or out of range).
    public subscript(i: Int) -> JSONValue? {
        guard let a = arrayValue, a.indices.contains(i) else { return nil }
        return a[i]
    }
}
