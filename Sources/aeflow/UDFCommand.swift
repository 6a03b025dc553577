#if Numaflow
import ArgumentParser
import Daemon
import Stage
import Foundation
import Hummingbird
import Logging
import NumaflowUDF
import ServiceLifecycle

struct UDF: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "udf",
        abstract: "Run as a Numaflow map UDF (map.proto v1, gRPC over a Unix socket).",
        discussion: """
            Each message value is an input point, an array of points or a numalogic window payload (as on the
            daemon's ZeroMQ input). Results: scores tagged "output", train requests tagged "train", input that could
            not be accepted tagged "dead_letter" (with the reason); route them with Numaflow's conditional forwarding.
            Per-key windows, the model store and hot swap work as in `aeflow serve`. SIGTERM stops gracefully.
            Beside gRPC it serves HTTP on the configuration's `http` address and port (or --http-port): /healthz,
            /readyz (ready once the socket listens), /metrics. A fatal error is also written to Numaflow's runtime
            error file (--runtime-errors-dir), which Numaflow's UI shows.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Configuration YAML (default: the embedded pipelines/default.yaml).") var config: String?
    @Option(help: "The Unix socket to serve on.") var socket = MapServer.defaultSocket
    @Option(help: "The server-info file Numaflow reads.") var serverInfo = MapServer.defaultServerInfo
    @Option(help: "HTTP port for /healthz, /readyz and /metrics (default: the configuration's http.port; 0 picks one).") var httpPort: Int?
    @Option(help: "Where a fatal error is written for Numaflow (its SDKs' runtime error file).")
    var runtimeErrorsDir = RuntimeErrorFile.defaultDirectory

    func run() async throws {
        try AEFlow.setUp(global)
        let logger = Logger(label: "aeflow.udf")
        let side = NumaflowSide(name: "udf", socket: socket, httpPort: httpPort, runtimeErrorsDir: runtimeErrorsDir, logger: logger)
        let cfg: AEFlowConfig
        do { cfg = try AEFlowConfig.load(path: config) } catch { throw side.fatal("configuration", "\(error)") }
        let engine = UDFEngine(config: cfg, logger: logger)
        let server = MapServer(engine: engine, socketPath: socket, serverInfoPath: serverInfo, logger: logger)
        try await side.serve(config: cfg, metrics: { engine.metrics.exposition() }) { onListening, stop in
            try await server.run(version: AEFlowVersion.current, onListening: onListening, stop: stop)
        }
    }
}

/// What `aeflow udf` and `aeflow transform` share around their gRPC server: HTTP beside it (/healthz, /readyz
/// once the socket listens, /metrics) on the configuration's `http` address and port or `--http-port`; SIGTERM
/// and SIGINT stop both gracefully; a fatal error is logged, written once to Numaflow's runtime error file and
/// fails the command. "<name> ready" is logged once the socket and HTTP both listen, with the HTTP port.
struct NumaflowSide {
    let name: String, socket: String, httpPort: Int?, runtimeErrorsDir: String
    let logger: Logger

    func serve(config cfg: AEFlowConfig, metrics: @escaping @Sendable () -> [UInt8],
               server: @escaping @Sendable (_ onListening: @escaping @Sendable () -> Void,
                                            _ stop: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void) async throws -> Void) async throws {
        let readiness = UDFReadiness(logger: logger, name: name, socket: socket)
        let app = Application(
            router: HTTPServer.probeRouter(isReady: { readiness.isReady }, token: cfg.http.bearerToken, metrics: metrics),
            configuration: .init(address: .hostname(cfg.http.address, port: httpPort ?? cfg.http.port), serverName: "aeflow-\(name)"),
            onServerRunning: { channel in readiness.http(port: channel.localAddress?.port) },
            logger: Logger(label: "aeflow.http"))
        let http = ServiceGroup(configuration: .init(services: [.init(service: app)], logger: Logger(label: "aeflow.http")))
        let sources = SignalBox()
        let stopper = Stopper()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // The HTTP side ending on its own (a port in use) stops the gRPC server too.
                    do { try await http.run() } catch { stopper.fire(); throw error }
                }
                group.addTask {
                    defer { readiness.stopping() }
                    do {
                        try await server({ readiness.listening() }) { shutdown in
                            stopper.set(shutdown)
                            sources.install([SIGTERM, SIGINT]) { readiness.stopping(); shutdown() }
                        }
                    } catch {
                        await http.triggerGracefulShutdown()
                        throw error
                    }
                    await http.triggerGracefulShutdown()
                }
                try await group.waitForAll()
            }
        } catch {
            throw fatal("serving", "\(error)")
        }
    }

    /// A fatal error: logged, written to Numaflow's runtime error file (once), and the command fails.
    func fatal(_ stage: String, _ detail: String) -> ExitCode {
        do {
            if let path = try RuntimeErrorFile.persist(code: "Internal error", message: "aeflow \(name): \(stage) failed", details: detail,
                                                       directory: runtimeErrorsDir) {
                logger.error("runtime error file written", metadata: ["path": "\(path)"])
            }
        } catch {
            logger.error("runtime error file not written", metadata: ["directory": "\(runtimeErrorsDir)", "error": "\(error)"])
        }
        return fail("\(stage): \(detail)")
    }
}

/// A Numaflow server is ready once its socket listens and the HTTP endpoints serve; "udf ready" is logged then,
/// with the HTTP port (tests and operators read it there).
final class UDFReadiness: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private var socketListening = false, httpPort: Int?, stopped = false, announced = false
    let logger: Logger, name: String, socket: String
    init(logger: Logger, name: String, socket: String) { (self.logger, self.name, self.socket) = (logger, name, socket) }

    var isReady: Bool { lock.withLock { socketListening && httpPort != nil && !stopped } }
    func listening() { lock.withLock { socketListening = true }; announce() }
    func http(port: Int?) { lock.withLock { httpPort = port ?? -1 }; announce() }
    func stopping() { lock.withLock { stopped = true } }

    private func announce() {
        let port: Int? = lock.withLock {
            guard socketListening, let p = httpPort, !announced else { return nil }
            announced = true
            return p
        }
        if let port { logger.info("\(name) ready", metadata: ["socket": "\(socket)", "http_port": "\(port)"]) }
    }
}

/// Calls the map server's shutdown from elsewhere (the HTTP side failing), once it is known.
final class Stopper: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var action: (@Sendable () -> Void)?, fired = false
    func set(_ a: @escaping @Sendable () -> Void) {
        let fireNow: Bool = lock.withLock { action = a; return fired }
        if fireNow { a() }
    }
    func fire() {
        let a: (@Sendable () -> Void)? = lock.withLock { fired = true; return action }
        a?()
    }
}

/// Keeps signal sources alive for the life of the command.
final class SignalBox: @unchecked Sendable {
    private let lock = NSLock()
    private var sources: [DispatchSourceSignal] = []
    func install(_ signals: [Int32], _ handler: @escaping @Sendable () -> Void) {
        lock.lock(); defer { lock.unlock() }
        sources += Demo.onSignals(signals, handler)
    }
}
#endif
