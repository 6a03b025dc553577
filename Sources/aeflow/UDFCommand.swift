import ArgumentParser
import Stage
import Foundation
import Logging
import NumaflowUDF

struct UDF: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "udf",
        abstract: "Run as a Numaflow map UDF (map.proto v1, gRPC over a Unix socket).",
        discussion: """
            Each message value is an input point, an array of points or a numalogic window payload (as on the
            daemon's ZeroMQ input). Results: scores tagged "output", train requests tagged "train", input that could
            not be accepted tagged "dead_letter" (with the reason); route them with Numaflow's conditional forwarding.
            Per-key windows, the model store and hot swap work as in `aeflow serve`. SIGTERM stops gracefully.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Configuration YAML (default: the embedded pipelines/default.yaml).") var config: String?
    @Option(help: "The Unix socket to serve on.") var socket = MapServer.defaultSocket
    @Option(help: "The server-info file Numaflow reads.") var serverInfo = MapServer.defaultServerInfo

    func run() async throws {
        try AEFlow.setUp(global)
        let logger = Logger(label: "aeflow.udf")
        let cfg: AEFlowConfig
        do { cfg = try AEFlowConfig.load(path: config) } catch { throw fail("configuration: \(error)") }
        let server = MapServer(engine: UDFEngine(config: cfg, logger: logger), socketPath: socket, serverInfoPath: serverInfo, logger: logger)
        let sources = SignalBox()
        do {
            try await server.run(version: "0.1.0") { shutdown in
                sources.install([SIGTERM, SIGINT], shutdown)
            }
        } catch {
            throw fail("\(error)")
        }
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
