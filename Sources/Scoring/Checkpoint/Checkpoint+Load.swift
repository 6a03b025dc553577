import Autoencoders
import NN
import TensorCore

extension Checkpoint {
    /// Reads, validates and builds a checkpoint: container, format, metadata, SHA-256 of the data, spec,
    /// every model tensor by name and shape (none extra), finite weights, and every statistic the spec's
    /// components need. Returns the checkpoint and its ready scoring pipeline; never traps on bad input.
    public static func load(path: String) throws(CheckpointError) -> (checkpoint: Checkpoint, pipeline: ScoringPipeline) {
        let bytes: [UInt8]
        do {
            bytes = try SafeTensorsFile.readBytes(contentsOf: path)
        } catch {
            throw CheckpointError(path: path, .container(error.problem))
        }
        return try decode(bytes, path: path)
    }

    public static func decode(_ bytes: [UInt8], path: String = "<memory>") throws(CheckpointError) -> (checkpoint: Checkpoint, pipeline: ScoringPipeline) {
        func fail(_ p: CheckpointError.Problem) -> CheckpointError { CheckpointError(path: path, p) }
        let file: SafeTensorsFile
        do {
            file = try SafeTensorsFile.decode(bytes, source: path)
        } catch {
            throw fail(.container(error.problem))
        }
        let meta = file.metadata
        guard meta["format"] == Checkpoint.format else { throw fail(.format(meta["format"])) }
        func required(_ k: String) throws(CheckpointError) -> String {
            guard let v = meta[k] else { throw fail(.metadata(key: k, reason: "is missing")) }
            return v
        }
        func json(_ k: String) throws(CheckpointError) -> JSONValue {
            do { return try JSONValue.parse(try required(k)) } catch let e as JSONParseError {
                throw fail(.metadata(key: k, reason: "is not valid JSON (\(e))"))
            } catch let e as CheckpointError { throw e } catch { throw fail(.metadata(key: k, reason: "\(error)")) }
        }
        // Integrity first: a truncated or flipped data section is reported as such.
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let actual = SHA256.hex(bytes[(8 + headerLength)...])
        let expected = try required("data_sha256")
        guard expected == actual else { throw fail(.integrity(expected: expected, actual: actual)) }

        guard let metrics = try json("metrics").arrayValue?.compactMap(\.stringValue), !metrics.isEmpty else {
            throw fail(.metadata(key: "metrics", reason: "must be a non-empty list of metric names"))
        }
        guard Set(metrics).count == metrics.count else { throw fail(.metadata(key: "metrics", reason: "names must be unique")) }
        guard let seqLen = Int(try required("seq_len")), seqLen >= 1 else { throw fail(.metadata(key: "seq_len", reason: "must be a positive integer")) }
        guard let version = Int(try required("version")), version >= 1 else { throw fail(.metadata(key: "version", reason: "must be a positive integer")) }
        guard let key = try json("key").arrayValue?.compactMap(\.stringValue) else { throw fail(.metadata(key: "key", reason: "must be a list of strings")) }
        let createdAt = try required("created_at")
        guard RFC3339.parse(createdAt) != nil else { throw fail(.metadata(key: "created_at", reason: "must be an RFC 3339 timestamp, got \"\(createdAt)\"")) }
        guard let train = try json("train").objectValue else { throw fail(.metadata(key: "train", reason: "must be a JSON object")) }
        let pipelineID = try required("pipeline_id")

        var spec: JSONObjectReader
        let model: ModelSpec, preprocess: [ComponentSpec], threshold: ComponentSpec, postprocess: ComponentSpec?, score: ScoreConfig
        do {
            spec = try JSONObjectReader(try json("spec"), path: "spec")
            var m = try spec.object("model")
            model = ModelSpec(name: try m.string("name"), conf: try m.object("conf").object)
            _ = try m.bool("stateful", default: true)
            try m.finish()
            preprocess = try spec.array("preprocess").enumerated().map { (i, v) throws(ConfigReadError) in try ComponentSpec.read(v, path: "spec.preprocess[\(i)]") }
            threshold = try ComponentSpec.read(spec.value("threshold"), path: "spec.threshold")
            let p = spec.value("postprocess")
            postprocess = p == nil || p == .null ? nil : try ComponentSpec.read(p, path: "spec.postprocess", defaultStateful: false)
            score = try ScoreConfig.read(spec.value("score"), path: "spec.score")
            try spec.finish()
        } catch let e as ConfigReadError {
            throw fail(.metadata(key: "spec", reason: e.description))
        } catch let e as CheckpointError { throw e } catch { throw fail(.metadata(key: "spec", reason: "\(error)")) }

        // Tensors, grouped by prefix; every name must belong to a group.
        var modelState = StateDict()
        var pre: [Int: [(String, Tensor)]] = [:]
        var thr: [(String, Tensor)] = []
        var scoreStats = ScoreStats()
        do {
            for name in file.names {
                let entry = file[name]!
                if name.hasPrefix("model.") {
                    let k = String(name.dropFirst(6))
                    modelState[k] = entry.dtype == .I64 ? .int64(try entry.int64Values(name: name, source: path), shape: Shape(entry.shape))
                        : .float(try entry.floatTensor(name: name, source: path))
                } else if name.hasPrefix("preprocess.") {
                    let parts = name.split(separator: ".", maxSplits: 2)
                    guard parts.count == 3, let i = Int(parts[1]), i >= 0, i < preprocess.count else {
                        throw fail(.tensors("tensor \"\(name)\" does not name a preprocess step of the spec (0..<\(preprocess.count))"))
                    }
                    pre[i, default: []].append((String(parts[2]), try entry.floatTensor(name: name, source: path)))
                } else if name.hasPrefix("threshold.") {
                    thr.append((String(name.dropFirst(10)), try entry.floatTensor(name: name, source: path)))
                } else if name.hasPrefix("score."),
                          scoreStats.set(String(name.dropFirst(6)), try entry.floatTensor(name: name, source: path).scalars) {
                    continue
                } else {
                    throw fail(.tensors("unexpected tensor \"\(name)\""))
                }
            }
        } catch let e as CheckpointError { throw e } catch let e as SafeTensorsError {
            throw fail(.tensors(e.description))
        } catch { throw fail(.tensors("\(error)")) }
        do { try scoreStats.validate(features: metrics.count) } catch { throw fail(error) }
        let checkpoint = Checkpoint(
            model: model, preprocess: preprocess, threshold: threshold, postprocess: postprocess, score: score, metrics: metrics,
            seqLen: seqLen, pipelineID: pipelineID, key: key, version: version, createdAt: createdAt, train: train,
            modelState: modelState, preprocessStats: (0..<preprocess.count).map { pre[$0] ?? [] }, thresholdStats: thr,
            scoreStats: scoreStats)
        do {
            return (checkpoint, try ScoringPipeline(checkpoint: checkpoint))
        } catch {
            throw CheckpointError(path: path, error)
        }
    }
}

