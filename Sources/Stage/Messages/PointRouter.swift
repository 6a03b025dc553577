import Scoring
import TensorCore

/// An accepted point routed to one pipeline, its metric values in the pipeline's order (nil = missing).
public struct RoutedPoint: Sendable {
    public var pipeline: Int
    public var key: [String]
    public var timestamp: Int64
    public var values: PointValues
    public var uuid: ShortText?
    public var configID: String
    /// Monotonic seconds when the message arrived (for the latency histogram).
    public var arrival: Double
    /// The message it came in (its frames, shared by every point of the message, not copied) and its index there,
    /// so a point rejected later (late, duplicate) is dead-lettered with the original message.
    public var source: [[UInt8]]? = nil
    public var index: Int? = nil
}

/// Resolves streams and pipelines for input points (numalogic's lookup: `config_id`, falling back to the
/// `default` stream; a point without `pipeline_id` goes to every pipeline of its stream). Pure: used by
/// the ingest thread.
public struct PointRouter: Sendable {
    /// A stream's pipeline. A class: the hot path hands targets around per point, and a reference costs one
    /// retain where a copy of both configurations costs one per field.
    public final class Target: Sendable {
        public let stream: StreamConf
        public let pipeline: MLPipelineConf
        init(stream: StreamConf, pipeline: MLPipelineConf) { (self.stream, self.pipeline) = (stream, pipeline) }
    }

    public let targets: [Target]
    public let missingPolicy: AEFlowConfig.Windows.MissingPolicy
    /// Target indices by stream `config_id`, built once.
    private let byStream: [String: [Int]]
    /// Where a point without `config_id` goes (the `default` stream, else the first one), looked up once: most
    /// points carry no `config_id`, and hashing "default" per point showed in the profile.
    private let unnamed: (String, [Int])?
    /// The target of a point that names neither stream nor pipeline when there is only one (the usual deployment).
    private let unnamedOnly: (configID: String, target: Int)?

    public init(config: AEFlowConfig) {
        targets = config.streams.flatMap { s in s.pipelines.map { Target(stream: s, pipeline: $0) } }
        missingPolicy = config.windows.missingPolicy
        var streams: [String: [Int]] = [:]
        for (i, t) in targets.enumerated() { streams[t.stream.configID, default: []].append(i) }
        byStream = streams
        if let fallback = streams["default"] {
            unnamed = ("default", fallback)
        } else if let first = targets.first {
            unnamed = (first.stream.configID, streams[first.stream.configID]!)
        } else {
            unnamed = nil
        }
        unnamedOnly = unnamed.flatMap { $0.1.count == 1 ? ($0.0, $0.1[0]) : nil }
    }

    public func streamTargets(_ configID: String?) -> (String, [Int])? {
        guard let configID else { return unnamed }
        if let byID = byStream[configID] { return (configID, byID) }
        if let fallback = byStream["default"] { return ("default", fallback) }
        return nil
    }

    public func route(_ p: InputPoint, arrival: Double, source: [[UInt8]]? = nil, index: Int? = nil) -> Result<[RoutedPoint], Rejection> {
        if p.configID == nil, p.pipelineID == nil, let (configID, t) = unnamedOnly {
            // The usual point: one pipeline to go to (no stream lookup, no list of candidates).
            return route(p, to: t, configID: configID, arrival: arrival, source: source, index: index).map { [$0] }
        }
        guard let (configID, candidates) = streamTargets(p.configID) else {
            return .failure(Rejection(.unknownStream, "no stream \"\(p.configID ?? "")\" and no default stream"))
        }
        var chosen = candidates
        if let pid = p.pipelineID {
            chosen = candidates.filter { targets[$0].pipeline.pipelineID == pid }
            guard !chosen.isEmpty else { return .failure(Rejection(.unknownPipeline, "stream \"\(configID)\" has no pipeline \"\(pid)\"")) }
        }
        var out: [RoutedPoint] = []
        out.reserveCapacity(chosen.count)
        for t in chosen {
            switch route(p, to: t, configID: configID, arrival: arrival, source: source, index: index) {
            case .success(let r): out.append(r)
            case .failure(let r): return .failure(r)
            }
        }
        return .success(out)
    }

    /// `p` for target `t`: its values in the pipeline's metric order.
    private func route(_ p: InputPoint, to t: Int, configID: String, arrival: Double, source: [[UInt8]]?, index: Int?) -> Result<RoutedPoint, Rejection> {
        let target = targets[t]
        let keys = target.stream.compositeKeys
        guard keys.isEmpty || p.key.count == keys.count else {
            return .failure(Rejection(.invalidKey, "stream \"\(configID)\" keys are [\(keys.joined(separator: ", "))], the point has \(p.key.count) values"))
        }
        var present = 0
        var values = PointValues()
        for m in target.pipeline.metrics {
            switch p.value(of: m) {
            case .some(.some(let v)): values.append(v); present += 1
            case .some(.none), .none:
                if missingPolicy == .reject { return .failure(Rejection(.missingMetric, "metric \(m) is missing or null")) }
                values.append(nil)
            }
        }
        guard present > 0 else {
            return .failure(Rejection(.unknownMetricSet, "none of the pipeline's metrics [\(target.pipeline.metrics.joined(separator: ", "))] is present"))
        }
        return .success(RoutedPoint(pipeline: t, key: p.key, timestamp: p.timestamp, values: values, uuid: p.uuid, configID: configID,
                                    arrival: arrival, source: source, index: index))
    }
}
