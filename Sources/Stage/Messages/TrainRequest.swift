import TensorCore

/// A request to train one model (ARCHITECTURE.md §5): handed over as this value inside one process (the daemon
/// to its retrain stage, `--with-retrain`), encoded as JSON only on the `train_requests` socket.
public struct TrainRequest: Sendable, Equatable {
    public var uuid: String
    public var configID: String
    public var pipelineID: String
    /// The model's key (`[]` for a model shared by the pipeline).
    public var key: [String]
    public var metrics: [String]

    public init(uuid: String, configID: String, pipelineID: String, key: [String], metrics: [String]) {
        (self.uuid, self.configID, self.pipelineID, self.key, self.metrics) = (uuid, configID, pipelineID, key, metrics)
    }

    public var model: ModelID { ModelID(pipelineID: pipelineID, key: key) }

    /// `{"header": "request_training", "uuid", "config_id", "pipeline_id", "composite_keys", "metrics"}`.
    public var json: [UInt8] {
        OutputEncoder.trainRequest(uuid: uuid, configID: configID, pipelineID: pipelineID, key: key, metrics: metrics)
    }

    /// Reads a request from the socket (what another process's daemon sent).
    public static func decode(_ body: [UInt8]) -> Result<TrainRequest, Rejection> {
        let value: JSONValue
        do { value = try JSONValue.parse(body) } catch { return .failure(Rejection(.badJSON, error.description)) }
        guard let o = value.objectValue else { return .failure(Rejection(.notAnObject, "a train request is a JSON object")) }
        guard let pid = o["pipeline_id"]?.stringValue, let k = o["composite_keys"]?.arrayValue else {
            return .failure(Rejection(.missingField, "pipeline_id and composite_keys"))
        }
        let key = k.compactMap(\.stringValue)
        guard key.count == k.count else { return .failure(Rejection(.wrongType, "composite_keys must be strings")) }
        let metrics = (o["metrics"]?.arrayValue ?? []).compactMap(\.stringValue)
        return .success(TrainRequest(uuid: o["uuid"]?.stringValue ?? "", configID: o["config_id"]?.stringValue ?? "",
                                     pipelineID: pid, key: key, metrics: metrics))
    }
}
