import Autoencoders
import NN
import TensorCore

/// Everything needed to score, in one safetensors file (format `aeflow.checkpoint.v1`, ARCHITECTURE.md §3):
/// the model state (`model.<state_dict key>`), fitted preprocess statistics (`preprocess.<i>.<stat>`), the
/// fitted threshold (`threshold.<stat>`), and optional training statistics for scoring (`score.<stat>`,
/// ``ScoreStats``), with the spec and provenance in
/// `__metadata__` and a SHA-256 of the data section.
public struct Checkpoint: Sendable {
    public static let format = "aeflow.checkpoint.v1"

    public var model: ModelSpec
    public var preprocess: [ComponentSpec]
    public var threshold: ComponentSpec
    public var postprocess: ComponentSpec?
    public var score: ScoreConfig
    public var metrics: [String]
    public var seqLen: Int
    public var pipelineID: String
    public var key: [String]
    public var version: Int
    public var createdAt: String
    public var train: JSONObject

    public var modelState: StateDict
    public var preprocessStats: [[(String, Tensor)]]
    public var thresholdStats: [(String, Tensor)]
    public var scoreStats: ScoreStats

    public init(model: ModelSpec, preprocess: [ComponentSpec], threshold: ComponentSpec, postprocess: ComponentSpec?, score: ScoreConfig,
                metrics: [String], seqLen: Int, pipelineID: String, key: [String], version: Int, createdAt: String, train: JSONObject,
                modelState: StateDict, preprocessStats: [[(String, Tensor)]], thresholdStats: [(String, Tensor)],
                scoreStats: ScoreStats) {
        (self.model, self.preprocess, self.threshold, self.postprocess, self.score) = (model, preprocess, threshold, postprocess, score)
        (self.metrics, self.seqLen, self.pipelineID, self.key, self.version, self.createdAt, self.train) =
            (metrics, seqLen, pipelineID, key, version, createdAt, train)
        (self.modelState, self.preprocessStats, self.thresholdStats, self.scoreStats) =
            (modelState, preprocessStats, thresholdStats, scoreStats)
    }

    /// The `spec` metadata entry.
    public var specJSON: JSONValue {
        .object(JSONObject([
            ("model", model.json), ("preprocess", .array(preprocess.map(\.json))), ("threshold", threshold.json),
            ("postprocess", postprocess?.json ?? .null), ("score", score.json),
        ]))
    }

    /// The safetensors document, `data_sha256` included.
    public func file() -> SafeTensorsFile {
        var f = SafeTensorsFile()
        for (name, t) in modelState.safeTensors(prefix: "model.") { f.set(name, t) }
        for (i, stats) in preprocessStats.enumerated() { for (n, t) in stats { f.set("preprocess.\(i).\(n)", t) } }
        for (n, t) in thresholdStats { f.set("threshold.\(n)", t) }
        for (n, t) in scoreStats.tensors { f.set(n, t) }
        var hash = SHA256()
        for n in f.names { hash.update(f[n]!.bytes) }
        f.metadata = [
            "format": Checkpoint.format,
            "spec": specJSON.serialized(),
            "metrics": JSONValue.array(metrics.map { .string($0) }).serialized(),
            "seq_len": String(seqLen),
            "pipeline_id": pipelineID,
            "key": JSONValue.array(key.map { .string($0) }).serialized(),
            "version": String(version),
            "created_at": createdAt,
            "train": JSONValue.object(train).serialized(),
            "data_sha256": hash.finalize().map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(),
        ]
        return f
    }

    public func encoded() -> [UInt8] { file().encoded() }

    /// Writes atomically (temporary file, fsync, rename, directory fsync).
    public func write(to path: String) throws(AtomicFile.WriteError) { try AtomicFile.write(encoded(), to: path) }
}
