import Foundation
import GRPCCore
import Logging
import SwiftProtobuf

/// Numaflow's source transformer service (sourcetransform.proto v1): a bidirectional stream that starts with a
/// handshake (`sot`), then one response per request with its id echoed, carrying the transformed results (keys
/// and event time from the payload); `IsReady` for the heartbeat.
struct TransformService: Sourcetransformer_V1_SourceTransform.SimpleServiceProtocol {
    let transformer: SourceTransformer

    func sourceTransformFn(request: RPCAsyncSequence<Sourcetransformer_V1_SourceTransformRequest, any Error>,
                           response: RPCWriter<Sourcetransformer_V1_SourceTransformResponse>, context: ServerContext) async throws {
        var requests = request.makeAsyncIterator()
        guard try await NumaflowServing.handshake(&requests, sot: { $0.hasHandshake && $0.handshake.sot }) else { return }
        try await response.write(.with { $0.handshake = .with { $0.sot = true } })
        while let r = try await requests.next() {
            let incoming = r.request
            let results = transformer.transform(UDFRequest(id: incoming.id, keys: incoming.keys, value: Array(incoming.value)))
            try await response.write(.with {
                $0.id = incoming.id
                $0.results = results.map { res in
                    Sourcetransformer_V1_SourceTransformResponse.Result.with {
                        $0.keys = res.keys
                        $0.value = Data(res.value)
                        $0.tags = res.tags
                        if let ms = res.eventTime {
                            $0.eventTime = .with { t in
                                t.seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
                                t.nanos = Int32((ms - t.seconds * 1000) * 1_000_000)
                            }
                        } else if incoming.hasEventTime {
                            $0.eventTime = incoming.eventTime
                        }
                    }
                }
            })
        }
    }

    func isReady(request: Google_Protobuf_Empty, context: ServerContext) async throws -> Sourcetransformer_V1_ReadyResponse {
        .with { $0.ready = true }
    }
}

/// `aeflow transform`: the source transformer on a Unix socket (Numaflow's default paths), the server-info
/// file written once it listens, a graceful stop on SIGTERM/SIGINT.
public struct TransformServer: Sendable {
    public let socketPath: String
    public let serverInfoPath: String
    public let transformer: SourceTransformer
    let logger: Logger

    public static let defaultSocket = "/var/run/numaflow/sourcetransform.sock"
    public static let defaultServerInfo = "/var/run/numaflow/sourcetransformer-server-info"

    public init(transformer: SourceTransformer, socketPath: String = defaultSocket, serverInfoPath: String = defaultServerInfo, logger: Logger) {
        (self.transformer, self.socketPath, self.serverInfoPath, self.logger) = (transformer, socketPath, serverInfoPath, logger)
    }

    public func run(version: String, onListening: @escaping @Sendable () -> Void = {},
                    stop: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void) async throws {
        try await NumaflowServing.run(service: TransformService(transformer: transformer), name: "transform", socketPath: socketPath,
                                      serverInfoPath: serverInfoPath, serverInfo: NumaflowServing.serverInfo(version: version), logger: logger,
                                      onListening: onListening, stop: stop)
    }
}
