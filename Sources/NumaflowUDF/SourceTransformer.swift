import Stage
import TensorCore

/// `aeflow transform`'s logic (Numaflow source transformer, sourcetransform.proto v1), without the transport:
/// each message is parsed by the same decoder and router as every other entry point, and each point becomes
/// one result whose keys are the point's composite key and whose event time is the point's timestamp, so
/// Numaflow's keyed partitions and watermarks follow the data. A message of several points is split into one
/// result per point (each re-encoded as a single point); a window payload keeps its bytes, keyed by its key and
/// timed by its newest row. What cannot be accepted goes out tagged `dead_letter` with the reason (the same
/// body as the map UDF's dead letters), keeping the request's keys and event time.
public struct SourceTransformer: Sendable {
    public struct Result: Sendable, Equatable {
        public var keys: [String]
        public var value: [UInt8]
        /// Epoch milliseconds; nil keeps the request's event time.
        public var eventTime: Int64?
        public var tags: [String]
    }

    let ingest: Ingest
    public let metrics: ScoringMetrics

    public init(config: AEFlowConfig, metrics: ScoringMetrics = ScoringMetrics()) {
        ingest = Ingest(config: config)
        self.metrics = metrics
    }

    public func transform(_ request: UDFRequest) -> [Result] {
        metrics.messagesIn.increment()
        func deadLetter(_ r: Rejection) -> Result {
            metrics.rejected(r.reason)
            return Result(keys: request.keys, value: DeadLetter.udfBody(r, message: request.value, id: request.id), eventTime: nil,
                          tags: [UDFResult.deadLetterTag])
        }
        switch ingest.decoder.decode(request.value) {
        case .failure(let r):
            return [deadLetter(r)]
        case .success(.window(let w)):
            guard ingest.router.streamTargets(w.configID) != nil else {
                return [deadLetter(Rejection(.unknownStream, "no stream \"\(w.configID ?? "")\" and no default stream"))]
            }
            metrics.pointsIn.increment()
            return [Result(keys: w.key, value: request.value, eventTime: w.timestamps.last, tags: [UDFResult.outputTag])]
        case .success(.points(let points)):
            return points.map { p in
                if case .failure(let r) = ingest.router.route(p, arrival: 0) { return deadLetter(r) }
                metrics.pointsIn.increment()
                return Result(keys: p.key, value: points.count == 1 ? request.value : Self.encode(p), eventTime: p.timestamp,
                              tags: [UDFResult.outputTag])
            }
        }
    }

    /// One point as a message of its own (the decoder reads it back to the same point).
    static func encode(_ p: InputPoint) -> [UInt8] {
        var o = JSONObject([
            ("key", .array(p.key.map { .string($0) })),
            ("timestamp", .int(p.timestamp)),
            ("metrics", .object(JSONObject(p.metrics.map { ($0.0, $0.1.map { .double(Double($0)) } ?? .null) }))),
        ])
        if let c = p.configID { o["config_id"] = .string(c) }
        if let pid = p.pipelineID { o["pipeline_id"] = .string(pid) }
        if let u = p.uuid { o["uuid"] = .string(u.string) }
        return Array(JSONValue.object(o).serialized().utf8)
    }
}
