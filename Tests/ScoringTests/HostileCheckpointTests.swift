import Foundation
import NN
import Scoring
import Testing
import TestSupport
import TensorCore

/// Checkpoints built to hurt: sizes in the spec (which is metadata, outside the data hash) far beyond what the
/// file holds, and degenerate fitted statistics. Each is a typed error naming the file; none is allocated.
@Suite struct HostileCheckpointTests {
    /// A valid checkpoint whose `spec` metadata has `edit` applied to its model conf (the data hash still holds).
    static func withModelConf(_ edit: (inout JSONObject) -> Void) throws -> (TemporaryDirectory, String) {
        let dir = try TemporaryDirectory()
        let path = dir.file("m.safetensors")
        var file = try SafeTensorsFile.decode(Trained.result.checkpoint.encoded())
        var spec = try #require(JSONValue.parse(file.metadata["spec"]!).objectValue)
        var model = try #require(spec["model"]?.objectValue)
        var conf = try #require(model["conf"]?.objectValue)
        edit(&conf)
        model["conf"] = .object(conf)
        spec["model"] = .object(model)
        file.metadata["spec"] = JSONValue.object(spec).serialized()
        try Data(file.encoded()).write(to: URL(fileURLWithPath: path))
        return (dir, path)
    }

    @Test(arguments: [("seq_len", Int64(1_000_000_000_000)), ("n_features", Int64(1) << 62), ("seq_len", Int64(100_000))])
    func oversizedSpecsAreRefusedBeforeBuilding(_ key: String, _ value: Int64) throws {
        let (dir, path) = try Self.withModelConf { $0[key] = .int(value) }
        defer { withExtendedLifetime(dir) {} }
        do {
            _ = try Checkpoint.load(path: path)
            Issue.record("loaded a spec with \(key) = \(value)")
        } catch {
            #expect(error.path == path)
            let text = error.description
            #expect(text.contains("exceeds"), "\(text)")
        }
    }

    @Test func layerSizesBeyondTheFileAreRefused() throws {
        let (dir, path) = try Self.withModelConf {
            $0["encoder_layersizes"] = .array([.int(1_000_000), .int(8)])
            $0["decoder_layersizes"] = .array([.int(8), .int(1_000_000)])
        }
        defer { withExtendedLifetime(dir) {} }
        do {
            _ = try Checkpoint.load(path: path)
            Issue.record("loaded layers of a million units")
        } catch {
            #expect(error.description.contains("exceeds"), "\(error)")
        }
    }

    /// Zero or negative fitted scales and negative spreads verify as tensors but would score NaN: refused at load.
    @Test(arguments: ["preprocess.0.scale=0", "preprocess.0.scale=-1", "threshold.std=-1", "score.residualstd=-1", "score.errorstd=nan"])
    func degenerateStatisticsAreRefused(_ edit: String) throws {
        let (name, valueText) = (String(edit.split(separator: "=")[0]), String(edit.split(separator: "=")[1]))
        let value = valueText == "nan" ? Float.nan : Float(valueText)!
        var c = Trained.result.checkpoint
        let f = c.metrics.count
        let replaced = Tensor([Float](repeating: value, count: f))
        if name.hasPrefix("preprocess.0.") {
            c.preprocessStats[0] = c.preprocessStats[0].map { $0.0 == "scale" ? ($0.0, replaced) : $0 }
        } else if name.hasPrefix("threshold.") {
            c.thresholdStats = c.thresholdStats.map { $0.0 == "std" ? ($0.0, replaced) : $0 }
        } else if name == "score.residualstd" {
            c.scoreStats.residualStd = replaced.scalars
        } else {
            c.scoreStats.errorStd = replaced.scalars
        }
        let dir = try TemporaryDirectory()
        try Data(c.encoded()).write(to: URL(fileURLWithPath: dir.file("m.safetensors")))
        do {
            _ = try Checkpoint.load(path: dir.file("m.safetensors"))
            Issue.record("loaded a checkpoint with \(edit)")
        } catch {
            #expect(error.description.contains(name.split(separator: ".").last!), "\(error)")
        }
    }

    /// A checkpoint written per ARCHITECTURE.md §3 carries no `score.*` tensors: it loads and scores, the adaptive
    /// mode starting from the threshold's statistics.
    @Test func aCheckpointWithoutScoreStatisticsLoads() throws {
        var c = Trained.result.checkpoint
        c.scoreStats = ScoreStats()
        c.score.mode = .adaptive
        let dir = try TemporaryDirectory()
        try c.write(to: dir.file("m.safetensors"))
        let (loaded, pipeline) = try Checkpoint.load(path: dir.file("m.safetensors"))
        #expect(loaded.scoreStats == ScoreStats())
        var state = KeyScoreState()
        let s = pipeline.score(window: Trained.series().slice(axis: 0, 0..<12), state: &state)
        #expect(s.unified.isFinite && state.adaptiveMean?.count == 2)
    }
}
