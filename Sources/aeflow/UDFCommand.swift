#if Numaflow
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
        // Scores written back to a metrics store (remote_write), beside the UDF's results.
        let store: MetricsStoreSide
        do { store = try MetricsStoreSide.make(cfg, registry: engine.metrics.registry, logger: logger) } catch { throw side.fatal("metrics store", "\(error)") }
        engine.scoreSink = store.writer
        store.start()
        defer { store.stop() }
        let server = MapServer(engine: engine, socketPath: socket, serverInfoPath: serverInfo, logger: logger)
        try await side.serve(config: cfg, metrics: { engine.metrics.exposition() }) { onListening, stop in
            try await server.run(version: AEFlowVersion.current, onListening: onListening, stop: stop)
        }
    }
}

#endif
