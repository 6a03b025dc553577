import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import SwiftProtobuf

/// Numaflow's map service (map.proto v1): a bidirectional stream per connection that starts with a
/// handshake (`sot`), then one response per request with its id echoed; `IsReady` for the heartbeat.
struct MapService: Map_V1_Map.SimpleServiceProtocol {
    let engine: UDFEngine
    let logger: Logger

    func mapFn(request: RPCAsyncSequence<Map_V1_MapRequest, any Error>, response: RPCWriter<Map_V1_MapResponse>,
               context: ServerContext) async throws {
        var requests = request.makeAsyncIterator()
        guard try await NumaflowServing.handshake(&requests, sot: { $0.hasHandshake && $0.handshake.sot }) else { return }
        try await response.write(.with { $0.handshake = .with { $0.sot = true } })
        while let r = try await requests.next() {
            if r.hasStatus && r.status.eot {
                try await response.write(.with { $0.id = r.id; $0.status = .with { $0.eot = true } })
                continue
            }
            let results = await engine.handle(UDFRequest(id: r.id, keys: r.request.keys, value: Array(r.request.value)))
            try await response.write(.with {
                $0.id = r.id
                $0.results = results.map { res in
                    Map_V1_MapResponse.Result.with {
                        $0.keys = res.keys
                        $0.value = Data(res.value)
                        $0.tags = res.tags
                    }
                }
            })
        }
    }

    func isReady(request: Google_Protobuf_Empty, context: ServerContext) async throws -> Map_V1_ReadyResponse {
        .with { $0.ready = true }
    }
}

/// `aeflow udf`: the map service on a Unix socket, the server-info file written once it listens, a
/// graceful stop on SIGTERM/SIGINT (in-flight streams finish, then the scoring thread drains).
public struct MapServer: Sendable {
    public let socketPath: String
    public let serverInfoPath: String
    public let engine: UDFEngine
    let logger: Logger

    public static let defaultSocket = "/var/run/numaflow/map.sock"
    public static let defaultServerInfo = "/var/run/numaflow/mapper-server-info"
    /// numaflow-go's end marker after the JSON in the server-info file.
    public static let serverInfoEnd = NumaflowServing.serverInfoEnd
    /// How long open streams may run on after SIGTERM (``NumaflowServing/stopGraceSeconds``).
    public static var stopGraceSeconds: Double { NumaflowServing.stopGraceSeconds }

    public init(engine: UDFEngine, socketPath: String = defaultSocket, serverInfoPath: String = defaultServerInfo, logger: Logger) {
        (self.engine, self.socketPath, self.serverInfoPath, self.logger) = (engine, socketPath, serverInfoPath, logger)
    }

    /// The server-info JSON: protocol, language, minimum Numaflow version, version, and the unary map mode.
    public static func serverInfo(version: String) -> String {
        NumaflowServing.serverInfo(version: version, metadata: #"{"MAP_MODE":"unary-map"}"#)
    }

    /// Serves until `stop` fires, then stops gracefully. `onListening` runs once the socket listens and the
    /// server-info file is written.
    public func run(version: String, onListening: @escaping @Sendable () -> Void = {},
                    stop: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void) async throws {
        engine.start()
        defer { engine.stop() }
        try await NumaflowServing.run(service: MapService(engine: engine, logger: logger), name: "udf", socketPath: socketPath,
                                      serverInfoPath: serverInfoPath, serverInfo: Self.serverInfo(version: version), logger: logger,
                                      onListening: onListening, stop: stop)
    }
}

/// What AEFlow's Numaflow servers share: gRPC on the Unix socket Numaflow provides (stale socket and
/// server-info files removed first), the server-info file written once the socket listens (Numaflow starts
/// sending then), and a graceful stop when `stop`'s trigger fires: open streams get `stopGraceSeconds`, then
/// they are cancelled.
public enum NumaflowServing {
    /// numaflow-go's end marker after the JSON in the server-info file.
    public static let serverInfoEnd = "U+005C__END__"
    /// How long open streams may run on after SIGTERM: `$NUMAFLOW_GRACEFUL_TIMEOUT_SECS` (the grace Numaflow
    /// itself gives user containers) when set, else 5 s, as Numaflow's Python SDK stops its server.
    public static var stopGraceSeconds: Double { stopGrace(ProcessInfo.processInfo.environment) }
    public static let graceVariable = "NUMAFLOW_GRACEFUL_TIMEOUT_SECS"

    static func stopGrace(_ environment: [String: String]) -> Double {
        guard let v = environment[graceVariable].flatMap(Double.init), v.isFinite, v >= 0 else { return 5 }
        return min(v, 3600)
    }

    /// Reads a stream's first message, which must be the handshake (`sot`): false when the stream ended before it;
    /// anything else is refused. The caller answers with its handshake.
    static func handshake<Requests: AsyncIteratorProtocol>(_ requests: inout Requests, sot: (Requests.Element) -> Bool) async throws -> Bool {
        guard let first = try await requests.next() else { return false }
        guard sot(first) else { throw RPCError(code: .invalidArgument, message: "the stream must start with a handshake (sot = true)") }
        return true
    }

    /// The server-info JSON: protocol, language, minimum Numaflow version, version, metadata (a JSON object).
    public static func serverInfo(version: String, metadata: String = "{}") -> String {
        #"{"protocol":"uds","language":"swift","minimum_numaflow_version":"1.4.0-z","version":"\#(version)","metadata":\#(metadata)}"#
    }

    static func run(service: any RegistrableRPCService, name: String, socketPath: String, serverInfoPath: String, serverInfo: String,
                    logger: Logger, onListening: @escaping @Sendable () -> Void,
                    stop: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void) async throws {
        let fm = FileManager.default
        for path in [socketPath, serverInfoPath] {
            if let slash = path.lastIndex(of: "/") { try fm.createDirectory(atPath: String(path[..<slash]), withIntermediateDirectories: true) }
        }
        try? fm.removeItem(atPath: socketPath)
        try? fm.removeItem(atPath: serverInfoPath)
        let transport = HTTP2ServerTransport.Posix(
            address: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext,
            config: .defaults { $0.rpc.maxRequestPayloadSize = 64 << 20 })
        let server = GRPCServer(transport: transport, services: [service])
        let (stopRequests, stopRequested) = AsyncStream<Void>.makeStream()
        stop { stopRequested.yield(()) }
        let stopGraceSeconds = Self.stopGraceSeconds
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.serve() }
                guard let address = try await server.listeningAddress else { throw RPCError(code: .unavailable, message: "the server did not start") }
                // Numaflow starts sending once this file holds the JSON and the end marker.
                try (serverInfo + serverInfoEnd).write(toFile: serverInfoPath, atomically: true, encoding: .utf8)
                logger.info("\(name) listening", metadata: ["socket": "\(address)", "server_info": "\(serverInfoPath)"])
                onListening()
                group.addTask {
                    for await _ in stopRequests { break }
                    logger.info("\(name) stopping", metadata: ["grace_seconds": "\(stopGraceSeconds)"])
                    server.beginGracefulShutdown()
                    // Numaflow keeps its stream open: after the grace period, open streams are cancelled.
                    try await Task.sleep(nanoseconds: UInt64(stopGraceSeconds * 1e9))
                    throw CancellationError()
                }
                _ = try await group.next()      // the server ended (every stream closed) or the grace period did
                group.cancelAll()
            }
        } catch is CancellationError {
            logger.warning("\(name) streams still open after the grace period were cancelled")
        }
        logger.info("\(name) stopped")
    }
}
