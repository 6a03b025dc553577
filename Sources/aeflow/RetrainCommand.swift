import ArgumentParser
import Daemon
import Stage
import Hummingbird
import Logging
import Retrain
import TensorCore

struct RetrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrain",
        abstract: "Run the retrain stage: history, scheduled training, checkpoints the daemon hot-swaps.",
        discussion: """
            Reads the daemon's history feed (history.inputs, by default the daemon's outputs.history) and train
            requests (retrain.requests), keeps the history in SQLite (history.path), trains models that are
            missing (once min_train_size rows exist), older than retrain_freq_hr or requested, and writes them
            to the model store (store.path). Logs one "retrain ready" line with its endpoints. SIGTERM stops it;
            a restarted stage carries on from the history file.

            With --now KEY, records a "retrain now" request for that key in the history file (a running stage
            picks it up within retrain.scan_interval_s) and exits.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Configuration YAML (default: the embedded pipelines/default.yaml).") var config: String?
    @Option(help: "Record a retrain-now request for this key (values joined by ':') and exit.") var now: String?
    @Option(help: "The pipeline of --now.") var pipeline = "default"

    func run() async throws {
        try AEFlow.setUp(global)
        let logger = Logger(label: "aeflow.retrain")
        let cfg: AEFlowConfig
        do { cfg = try AEFlowConfig.load(path: config) } catch { throw fail("configuration: \(error)") }
        if let now {
            try request(now, cfg)
            return
        }
        BLAS.setThreads(cfg.retrain.threadsPerTraining)
        let stage: RetrainStage
        do { stage = try RetrainStage(config: cfg, logger: logger) } catch { throw fail("\(error)") }
        // History from the metrics store (`source: prometheus`); scores are written back by the daemon, not here.
        do { stage.historySource = try MetricsStoreSide.make(cfg, registry: stage.metrics.registry, logger: logger, writes: false).history } catch {
            throw fail("\(error)")
        }
        let ready = ReadyLine(logger: logger, message: "retrain ready", endpoints: { stage.endpoints })
        let app = Application(
            router: RetrainHTTP.router(stage: stage, token: cfg.retrain.http.bearerToken),
            configuration: .init(address: .hostname(cfg.retrain.http.address, port: cfg.retrain.http.port), serverName: "aeflow-retrain"),
            services: [BlockingService(start: { try stage.start(sockets: true) }, stop: { stage.stop() }, onStarted: { ready.component() })],
            onServerRunning: { channel in ready.http(port: channel.localAddress?.port) },
            logger: Logger(label: "aeflow.http"))
        do { try await app.runService() } catch { throw fail("\(error)") }
    }

    func request(_ keyText: String, _ cfg: AEFlowConfig) throws {
        guard let target = PointRouter(config: cfg).targets.first(where: { $0.pipeline.pipelineID == pipeline }) else {
            throw fail("no pipeline \"\(pipeline)\" in the configuration")
        }
        let key = target.pipeline.modelScope == .pipeline ? [] : keyText.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let n = target.stream.compositeKeys.count
        guard target.pipeline.modelScope == .pipeline || n == 0 || key.count == n else {
            throw fail("the stream's keys are [\(target.stream.compositeKeys.joined(separator: ", "))]; got \(key.count) value(s)")
        }
        do {
            let store = try HistoryStore(path: cfg.history.path, maxRowsPerKey: cfg.history.maxRowsPerKey)
            try store.request(ModelID(pipelineID: pipeline, key: key), now: Date().timeIntervalSince1970, forced: true)
        } catch {
            throw fail("\(error)")
        }
        print("queued: retrain \(pipeline)/\(key.joined(separator: ":")) (a running stage starts it within \(cfg.retrain.scanIntervalSeconds) s)")
    }
}

/// Logs one ready line once every component and the HTTP server are up, with the endpoints actually
/// bound (so a supervisor, or a test, using port 0 learns the ports).
final class ReadyLine: @unchecked Sendable {
    // @unchecked: state under `lock`.
    private let lock = NSLock()
    private var pending: Int
    private var httpPort: Int?
    private let logger: Logger
    private let message: Logger.Message
    private let endpoints: @Sendable () -> [String: String]

    init(logger: Logger, message: Logger.Message, components: Int = 1, endpoints: @escaping @Sendable () -> [String: String]) {
        (self.logger, self.message, self.pending, self.endpoints) = (logger, message, components, endpoints)
    }

    func component() { update { $0.pending -= 1 } }
    func http(port: Int?) { update { $0.httpPort = port ?? -1 } }

    private func update(_ change: (ReadyLine) -> Void) {
        lock.lock()
        let before = pending <= 0 && httpPort != nil
        change(self)
        let now = pending <= 0 && httpPort != nil
        lock.unlock()
        guard !before && now else { return }
        var meta: Logger.Metadata = ["http_port": "\(httpPort ?? -1)"]
        for (role, endpoint) in endpoints() { meta[role] = "\(endpoint)" }
        logger.info(message, metadata: meta)
    }
}

import Foundation
