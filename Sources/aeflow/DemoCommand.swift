import ArgumentParser
import Daemon
import Stage
import Foundation
import SystemCalls
import Hummingbird
import Logging
import Retrain
import ServiceLifecycle
import Scoring
import Offline
import TensorCore
import Training
import ZMQ

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Daemon + retrain stage + a synthetic publisher, with live scores per key.",
        discussion: """
            Runs the embedded default pipeline (pipelines/default.yaml: VanillaAE over 12-point windows,
            StandardScaler, the likelihood score with an alert threshold of 9) with the retrain stage in the same
            process, over ipc:// sockets in --dir (so nothing else on the machine is disturbed). A publisher sends
            seasonal series for several keys (Training's synthetic generator): first 2,100 points of history per
            key, fast, then live points at --rate per key per second. Once every key has a model, anomalies are
            injected (Training's anomaly generator) every ~45 points per key; they show in red.

            Stops after --duration (e.g. 20s, 2m) or on Ctrl-C, then prints a summary per key and in total (the
            totals are the sums of the key lines): points sent and answered by status, alarms, and the scores of
            injected points against the rest. --plot FILE.png draws each key's series with its
            scores and the injected anomalies marked.
            """)

    @Option(help: "Stop after this long (e.g. 20s, 2m, 90); default: until Ctrl-C.") var duration: String?
    @Option(help: "Number of keys.") var keys = 4
    @Option(help: "Live points per second per key.") var rate: Double = 20
    @Option(help: "Write a PNG chart of every key's series, scores and injected anomalies at the end.") var plot: String?
    @Option(help: "Working directory for the demo's store, history and sockets (emptied first).") var dir = "var/demo"
    @Flag(help: "Plain progress lines instead of a redrawn table (automatic when standard output is not a terminal).")
    var plain = false
    @Flag(name: .shortAndLong, help: "Log at info level (logs go to standard error).") var verbose = false

    func run() async throws {
        let seconds: Double?
        do { seconds = try duration.map(Self.parseDuration) } catch { throw fail("\(error)") }
        guard (1...26).contains(keys) else { throw fail("--keys must be 1…26") }
        guard rate > 0 && rate <= 10_000 else { throw fail("--rate must be in (0, 10000]") }
        let tty = !plain && Files.isTerminal(STDOUT_FILENO)
        Logfmt.bootstrap(level: verbose || !tty ? .info : .warning)
        BLAS.setThreads(1)
        try AEFlow.checkKernelLevel()

        try? FileManager.default.removeItem(atPath: dir)
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw fail("cannot create \(dir): \(error)")
        }
        let root = URL(fileURLWithPath: dir).standardizedFileURL.path
        var config: AEFlowConfig
        do { config = try AEFlowConfig.embeddedDefault() } catch { throw fail("\(error)") }
        // The embedded pipelines as they are; the demo's own transports and files.
        config.inputs = [SocketConfig(endpoint: "ipc://\(root)/in.ipc", type: .pull, bind: true)]
        // The reader binds and the daemon connects: a connecting PUSH queues its outputs from the start, so none
        // is dropped while the reader comes up (the daemon never blocks on an output).
        config.outputs.scores = SocketConfig(endpoint: "ipc://\(root)/scores.ipc", type: .push, bind: false)
        config.store.path = "\(root)/models"
        config.windows.snapshotPath = nil   // every demo starts afresh (its synthetic timestamps start over)
        config.history.path = "\(root)/history.sqlite"
        let pointRouter = PointRouter(config: config)
        guard let target = pointRouter.targets.first, target.pipeline.metrics.count == 1 else {
            throw fail("the embedded default pipeline changed: the demo expects one metric")
        }
        let conf = target.pipeline.numalogicConf

        let names = (0..<keys).map { Self.keyNames[$0] }
        let show = DemoBoard(keys: names, backfill: Self.backfill, window: target.stream.windowSize)
        let reader = DemoReader(endpoint: config.outputs.scores.endpoint, board: show)
        reader.start()
        let stage: RetrainStage
        let runtime: DaemonRuntime
        do {
            stage = try RetrainStage(config: config, router: pointRouter, logger: Logger(label: "aeflow.retrain"))
            runtime = try DaemonRuntime(config: config, logger: Logger(label: "aeflow.serve"), link: stage, router: pointRouter)
            try stage.start(sockets: false)
            try runtime.start()
        } catch {
            throw fail("\(error)")
        }
        let port = PortBox()
        let app = Application(router: HTTPServer.router(runtime: runtime),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "aeflow-demo"),
                              onServerRunning: { port.set($0.localAddress?.port) }, logger: Logger(label: "aeflow.http"))
        let group = ServiceGroup(configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [],
                                                      logger: Logger(label: "aeflow.http")))
        let http = Task { try await group.run() }

        let stop = StopFlag()
        let signals = Self.onSignals([SIGINT, SIGTERM]) { stop.set() }
        let feed = DemoPublisher(endpoint: config.inputs[0].endpoint, keys: names, rate: rate, board: show, stop: stop)
        feed.start()

        let started = Date()
        let header = "AEFlow demo · embedded default pipeline (\(conf.model.name) over \(target.stream.windowSize) points · "
            + conf.preprocess.map(\.name).joined(separator: ", ") + " · \(conf.threshold.name)) · \(keys) keys × \(Int(rate)) points/s"
        var lastPlain = -1.0
        while !stop.isSet {
            let elapsed = Date().timeIntervalSince(started)
            if let seconds, elapsed >= seconds { break }
            if tty {
                FileHandleStandardOutput.write(show.table(header: header, elapsed: elapsed, limit: seconds, port: port.value))
            } else if elapsed - lastPlain >= 2 {
                lastPlain = elapsed
                FileHandleStandardOutput.write(show.plainLine(elapsed: elapsed))
            }
            try? await Task.sleep(nanoseconds: 250_000_000)
        }
        feed.stop()
        // Every point sent gets its output before the daemon stops.
        let sent = feed.join()
        reader.waitFor(sent, timeout: 15)
        reader.stop()
        runtime.stop()
        stage.stop()
        await group.triggerGracefulShutdown()
        _ = await http.result
        signals.forEach { $0.cancel() }

        let summary = show.summary(sent: sent)
        if tty { FileHandleStandardOutput.write(show.table(header: header, elapsed: Date().timeIntervalSince(started), limit: seconds, port: port.value)) }
        FileHandleStandardOutput.write(summary.text)
        if let plot {
            do {
                try Data(show.chart().png()).write(to: URL(fileURLWithPath: plot))
                FileHandleStandardOutput.write("chart written to \(plot)\n")
            } catch {
                throw fail("cannot write \(plot): \(error)")
            }
        }
    }

    /// History sent per key before live points: the default pipeline's min_train_size (2,000) plus a margin.
    static let backfill = 2100

    static let keyNames = ["web-1", "api-1", "db-1", "cache-1", "web-2", "api-2", "db-2", "cache-2", "queue-1", "auth-1", "search-1", "mail-1",
                           "web-3", "api-3", "db-3", "cache-3", "queue-2", "auth-2", "search-2", "mail-2", "cdn-1", "cdn-2", "batch-1", "batch-2",
                           "edge-1", "edge-2"]

    /// "20s", "2m", "1h", "90" (seconds).
    static func parseDuration(_ s: String) throws -> Double {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        var text = s.trimmingCharacters(in: .whitespaces)
        var factor = 1.0
        if let last = text.last, let f = units[last] { factor = f; text.removeLast() }
        guard let v = Double(text), v > 0, v.isFinite else { throw ValidationError("--duration: expected e.g. 20s, 2m or 90, got \"\(s)\"") }
        return v * factor
    }

    static func onSignals(_ signals: [Int32], _ handler: @escaping @Sendable () -> Void) -> [DispatchSourceSignal] {
        signals.map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig)
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }
}

final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var port: Int?
    func set(_ p: Int?) { lock.lock(); port = p; lock.unlock() }
    var value: Int? { lock.lock(); defer { lock.unlock() }; return port }
}

final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.lock(); flag = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return flag }
}

enum FileHandleStandardOutput {
    static func write(_ s: String) { Files.writeStandardOutput(s) }
}

#if canImport(Glibc)
import Glibc
#endif
