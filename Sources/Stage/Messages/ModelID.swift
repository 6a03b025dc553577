/// Which model scores a point: the pipeline and the model key (the point's composite key for per-key
/// models, empty for a pipeline-wide model).
public struct ModelID: Hashable, Sendable, CustomStringConvertible {
    public let pipelineID: String
    public let key: [String]
    public init(pipelineID: String, key: [String]) { (self.pipelineID, self.key) = (pipelineID, key) }
    public var description: String { "\(pipelineID)/\(key.joined(separator: ":"))" }
}
