import ArgumentParser
import Daemon
import Hummingbird
import Logging

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

    func run() async throws {
        AEFlow.setUp(global)
        let logger = Logger(label: "aeflow.serve")
        let cfg: AEFlowConfig
        do { cfg = try AEFlowConfig.load(path: config) } catch { throw fail("configuration: \(error)") }
        let runtime: DaemonRuntime
        do { runtime = try DaemonRuntime(config: cfg, logger: logger) } catch { throw fail("\(error)") }
        let reporter = ReadinessReporter(runtime: runtime, logger: logger)
        let app = Application(
            router: HTTPServer.router(runtime: runtime),
            configuration: .init(address: .hostname(cfg.http.address, port: cfg.http.port), serverName: "aeflow"),
            services: [DaemonService(runtime: runtime, onStarted: { reporter.sockets() })],
            onServerRunning: { channel in reporter.http(port: channel.localAddress?.port) },
            logger: Logger(label: "aeflow.http"))
        do {
            try await app.runService()
        } catch {
            throw fail("\(error)")
        }
        logger.info("daemon stopped")
    }
}
