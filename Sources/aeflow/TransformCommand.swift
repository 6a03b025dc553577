#if Numaflow
import ArgumentParser
import Foundation
import Logging
import NumaflowUDF
import Stage

struct Transform: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transform",
        abstract: "Run as a Numaflow source transformer (sourcetransform.proto v1, gRPC over a Unix socket).",
        discussion: """
            Each message value is parsed exactly as `aeflow serve` and `aeflow udf` parse it (a point, an array of
            points, a numalogic window payload). Every point becomes one message whose keys are its composite key and
            whose event time is its timestamp (arrays are split, one point per message), tagged "output"; so
            Numaflow's keyed partitions (ordered processing) send a key's points to one `aeflow udf` replica and its
            watermarks follow the data. Input that cannot be accepted keeps its keys and event time and is tagged
            "dead_letter" with the reason. HTTP (/healthz, /readyz, /metrics) and the runtime error file work as
            for `aeflow udf`. SIGTERM stops gracefully.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Configuration YAML: its streams decide which messages route (default: the embedded pipelines/default.yaml).")
    var config: String?
    @Option(help: "The Unix socket to serve on.") var socket = TransformServer.defaultSocket
    @Option(help: "The server-info file Numaflow reads.") var serverInfo = TransformServer.defaultServerInfo
    @Option(help: "HTTP port for /healthz, /readyz and /metrics (default: the configuration's http.port; 0 picks one).") var httpPort: Int?
    @Option(help: "Where a fatal error is written for Numaflow (its SDKs' runtime error file).")
    var runtimeErrorsDir = RuntimeErrorFile.defaultDirectory

    func run() async throws {
        try AEFlow.setUp(global)
        let logger = Logger(label: "aeflow.transform")
        let side = NumaflowSide(name: "transform", socket: socket, httpPort: httpPort, runtimeErrorsDir: runtimeErrorsDir, logger: logger)
        let cfg: AEFlowConfig
        do { cfg = try AEFlowConfig.load(path: config) } catch { throw side.fatal("configuration", "\(error)") }
        let transformer = SourceTransformer(config: cfg)
        let server = TransformServer(transformer: transformer, socketPath: socket, serverInfoPath: serverInfo, logger: logger)
        try await side.serve(config: cfg, metrics: { transformer.metrics.exposition() }) { onListening, stop in
            try await server.run(version: AEFlowVersion.current, onListening: onListening, stop: stop)
        }
    }
}
#endif
