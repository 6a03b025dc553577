import ArgumentParser
import Daemon
import Stage
import Hummingbird
import Logging
import Retrain
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the streaming daemon: ZeroMQ in, per-key windows, hot-swapped models, scores out.",
        discussion: """
            Without --config the embedded default (pipelines/default.yaml) is used. Logs one
            "daemon ready" line with every endpoint actually bound once it accepts input. SIGTERM or SIGINT
            drains: inputs close, every accepted point is scored and published, outputs are flushed.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Configuration YAML (default: the embedded pipelines/default.yaml).") var config: String?
    @Flag(help: "Run the retrain stage in this process (history, scheduled training, hot-swapped checkpoints).")
    var withRetrain = false

    func run() async throws {
        try AEFlow.setUp(global)
        let logger = Logger(label: "aeflow.serve")
        let cfg: AEFlowConfig
        do { cfg = try AEFlowConfig.load(path: config) } catch { throw fail("configuration: \(error)") }
        // One router per process: the daemon's scoring and the in-process stage's history route alike.
        let pointRouter = PointRouter(config: cfg)
        var stage: RetrainStage?
        if withRetrain {
            do { stage = try RetrainStage(config: cfg, router: pointRouter, logger: Logger(label: "aeflow.retrain")) } catch { throw fail("\(error)") }
        }
        let runtime: DaemonRuntime
        do { runtime = try DaemonRuntime(config: cfg, logger: logger, link: stage, router: pointRouter) } catch { throw fail("\(error)") }
        let store: MetricsStoreSide
        do { store = try MetricsStoreSide.make(cfg, registry: runtime.metrics.registry, logger: logger) } catch { throw fail("\(error)") }
        stage?.historySource = store.history
        runtime.historySource = store.history
        runtime.scoreSink = store.writer
        let ready = ReadyLine(logger: logger, message: "daemon ready", components: stage == nil ? 1 : 2, endpoints: { runtime.endpoints })
        let router = HTTPServer.router(runtime: runtime)
        // Services stop in reverse order: the daemon drains first, then the stage writes the last history.
        var services: [any Service] = []
        // The score writer stops last: after the daemon has drained, it sends what is queued.
        if store.writer != nil { services.append(BlockingService(start: { store.start() }, stop: { store.stop() }, onStarted: {})) }
        if let stage {
            RetrainHTTP.addAdminRoutes(to: router, stage: stage, token: cfg.http.bearerToken)
            services.append(BlockingService(start: { try stage.start(sockets: false) }, stop: { stage.stop() }, onStarted: { ready.component() }))
        }
        services.append(BlockingService(start: { try runtime.start() }, stop: { runtime.stop() }, onStarted: { ready.component() }))
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(cfg.http.address, port: cfg.http.port), serverName: "aeflow"),
            services: services,
            onServerRunning: { channel in ready.http(port: channel.localAddress?.port) },
            logger: Logger(label: "aeflow.http"))
        do {
            try await app.runService()
        } catch {
            throw fail("\(error)")
        }
        logger.info("daemon stopped")
    }
}
