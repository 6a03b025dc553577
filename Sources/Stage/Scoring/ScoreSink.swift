/// One scored point as numbers, for a sink beside the ZeroMQ output (remote write to a metrics store).
public struct ScoreSample: Sendable {
    public var pipelineID: String
    /// The stream's `composite_keys` (empty: any number of key values) and the key's values.
    public var keyNames: [String]
    public var key: [String]
    /// The point's event time (epoch ms).
    public var timestamp: Int64
    /// The 0–10 (or configured) anomaly score.
    public var score: Float
    public var metrics: [String]
    /// Per-metric scores, in `metrics` order, when the pipeline gives them.
    public var metricScores: [Float]?
    public var isAnomaly: Bool

    public init(pipelineID: String, keyNames: [String], key: [String], timestamp: Int64, score: Float, metrics: [String],
                metricScores: [Float]?, isAnomaly: Bool) {
        (self.pipelineID, self.keyNames, self.key, self.timestamp, self.score) = (pipelineID, keyNames, key, timestamp, score)
        (self.metrics, self.metricScores, self.isAnomaly) = (metrics, metricScores, isAnomaly)
    }
}

/// Where a scoring engine hands the scores it emits (once per batch, on its worker's thread). A sink must not
/// block: the ZeroMQ output waits for nothing beside it.
public protocol ScoreSink: AnyObject, Sendable {
    func submit(_ samples: [ScoreSample])
}
