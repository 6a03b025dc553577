#if Numaflow
import ArgumentParser
import Daemon
import Foundation
import Hummingbird
import Logging
import NumaflowUDF
import ServiceLifecycle
import Stage

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
        let readiness = NumaflowReadiness(logger: logger, name: name, socket: socket)
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
final class NumaflowReadiness: @unchecked Sendable {
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
