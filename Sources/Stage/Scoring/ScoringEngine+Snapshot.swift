import Scoring
import SystemCalls
import TensorCore

/// Window snapshots: on shutdown every key's window and score statistics are written to
/// `windows.snapshot_path`; at start they are read back, so the first point after a restart is scored with a
/// full window instead of `warming_up` (README "Restarts"). A snapshot that does not match the configuration
/// (another window size or metric list) is skipped per pipeline; an unreadable one is ignored with a warning.
extension ScoringEngine {
    public static let snapshotFormat = "aeflow.windows.v1"

    /// The current windows and score states.
    public func snapshot() -> [UInt8] { Self.snapshot(of: [self]) }

    /// One document for the windows and score states of every worker's engine (each owns a share of the keys;
    /// all were built from the same configuration). Read only once the workers have stopped.
    public static func snapshot(of engines: [ScoringEngine]) -> [UInt8] {
        var out = JSONObject([("format", .string(Self.snapshotFormat))])
        guard let first = engines.first else { return Array(JSONValue.object(out).serialized().utf8) }
        out["pipelines"] = .array(first.pipelines.indices.map { pi in
            let p = first.pipelines[pi]
            let keys = engines.flatMap { $0.snapshotKeys(pipeline: pi) }
            return .object(JSONObject([
                ("config_id", .string(p.target.stream.configID)), ("pipeline_id", .string(p.target.pipeline.pipelineID)),
                ("window", .int(Int64(p.windows.length))), ("metrics", .array(p.target.pipeline.metrics.map { .string($0) })),
                ("keys", .array(keys)),
            ]))
        })
        return Array(JSONValue.object(out).serialized().utf8)
    }

    /// Pipeline `pi`'s keys, least recently used first.
    func snapshotKeys(pipeline pi: Int) -> [JSONValue] {
        let p = pipelines[pi]
        let f = p.windows.features
        var rows = [Float](repeating: 0, count: p.windows.length * f)
        return p.windows.entries.reversed().map { (key, slot) in
            let n = rows.withUnsafeMutableBufferPointer { p.windows.copyWindow(slot: slot, into: $0.baseAddress!) }
            let extra = slot < p.extras.count ? p.extras[slot] : KeyExtra()
            return .object(JSONObject([
                ("key", .array(key.map { .string($0) })),
                ("timestamps", .array(p.windows.timestamps(slot: slot).map { .int($0) })),
                ("values", .array(rows[0..<(n * f)].map { $0.isFinite ? .double(Double($0)) : .null })),
                ("model_version", extra.modelVersion.map { .int(Int64($0)) } ?? .null),
                ("state", extra.state.json),
            ]))
        }
    }

    /// What a restore did.
    public struct RestoreReport: Sendable, Equatable {
        public var keys = 0
        /// Keys in the snapshot that belong to another worker (`windows.workers` > 1): that worker restores them.
        public var otherWorkers = 0
        public var skippedPipelines: [String] = []
    }

    /// Reads a snapshot back into empty windows (the keys this engine's shard owns); returns how many keys were restored.
    public func restore(_ bytes: [UInt8]) throws(ConfigReadError) -> RestoreReport {
        let doc: JSONValue
        do { doc = try JSONValue.parse(bytes) } catch { throw ConfigReadError(path: "snapshot", reason: "is not valid JSON (\(error))") }
        guard let o = doc.objectValue, o["format"]?.stringValue == Self.snapshotFormat, let list = o["pipelines"]?.arrayValue else {
            throw ConfigReadError(path: "snapshot", reason: "is not an \(Self.snapshotFormat) document")
        }
        var report = RestoreReport()
        for item in list {
            guard let p = item.objectValue, let pid = p["pipeline_id"]?.stringValue, let cid = p["config_id"]?.stringValue else { continue }
            guard let pi = pipelines.firstIndex(where: { $0.target.pipeline.pipelineID == pid && $0.target.stream.configID == cid }),
                  p["window"]?.intValue == Int64(pipelines[pi].windows.length),
                  p["metrics"]?.arrayValue?.compactMap(\.stringValue) == pipelines[pi].target.pipeline.metrics,
                  let keys = p["keys"]?.arrayValue else {
                report.skippedPipelines.append(pid)
                continue
            }
            let f = pipelines[pi].windows.features
            for k in keys {
                guard let e = k.objectValue, let keyValues = e["key"]?.arrayValue?.compactMap(\.stringValue),
                      let ts = e["timestamps"]?.arrayValue?.compactMap(\.intValue), let vs = e["values"]?.arrayValue,
                      vs.count == ts.count * f, ts.count <= pipelines[pi].windows.length else { continue }
                guard shard.owns(keyValues) else { report.otherWorkers += 1; continue }
                let slot = keySlot(pi, keyValues, now: 0).slot
                while pipelines[pi].extras.count <= slot { pipelines[pi].extras.append(KeyExtra()) }
                for (r, t) in ts.enumerated() {
                    let row = (0..<f).map { c in vs[r * f + c].doubleValue.map(Float.init) ?? .nan }
                    _ = row.withUnsafeBufferPointer {
                        pipelines[pi].windows.append(slot: slot, timestamp: t, row: $0, duplicates: .replace, late: .insert)
                    }
                }
                var extra = KeyExtra()
                extra.modelVersion = e["model_version"]?.intValue.map(Int.init)
                extra.state = e["state"].flatMap { KeyScoreState(json: $0) } ?? KeyScoreState()
                pipelines[pi].extras[slot] = extra
                report.keys += 1
            }
        }
        metrics.setKeys(keyCount, shard: shard)
        return report
    }
}

extension ScoringEngine {
    /// Restores `config.windows.snapshotPath` when it exists (logging what it did); a bad file is reported and
    /// ignored, never fatal.
    public func restoreSnapshot() {
        guard let path = config.windows.snapshotPath else { return }
        guard let bytes = try? SafeTensorsFile.readBytes(contentsOf: path) else { return }
        do {
            let r = try restore(bytes)
            logger.info("windows restored", metadata: ["path": "\(path)", "keys": "\(r.keys)", "worker": "\(shard)",
                                                       "skipped_pipelines": "\(r.skippedPipelines.joined(separator: ","))"])
        } catch {
            logger.warning("window snapshot ignored", metadata: ["path": "\(path)", "reason": "\(error)"])
        }
    }

    /// Writes the snapshot atomically to `config.windows.snapshotPath` (when set).
    public func writeSnapshot() { Self.writeSnapshot(of: [self]) }

    /// Writes one snapshot of every worker's engine atomically to their `config.windows.snapshotPath` (when set).
    public static func writeSnapshot(of engines: [ScoringEngine]) {
        guard let first = engines.first, let path = first.config.windows.snapshotPath else { return }
        Files.makeParentDirectory(path)
        do {
            try AtomicFile.write(snapshot(of: engines), to: path)
            first.logger.info("windows saved", metadata: ["path": "\(path)", "keys": "\(engines.reduce(0) { $0 + $1.keyCount })"])
        } catch {
            first.logger.error("window snapshot not written", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }
}

extension ScoringEngine {
    /// Fills the windows of this engine's keys in pipeline `pipeline` (a router target index) with `series` read from
    /// a metrics store, oldest first, before any point arrives: no output is emitted for them. A key's newer points
    /// (restored from the snapshot) stay; values the store did not have follow `missing_policy`. Each key's model is
    /// looked up at once, so that it is read (or, once trained, found) before the key's first point. Returns the rows
    /// stored.
    @discardableResult
    public func prefill(pipeline pi: Int, _ series: [HistorySeries], now: Double) -> Int {
        guard pipelines.indices.contains(pi) else { return 0 }
        let f = pipelines[pi].windows.features, length = pipelines[pi].windows.length
        var stored = 0
        for s in series where shard.owns(s.key) && s.values.count == s.timestamps.count * f {
            let (slot, evicted) = keySlot(pi, s.key, now: now)
            if evicted != nil { metrics.keysEvicted.increment() }
            if slot >= pipelines[pi].extras.count {
                pipelines[pi].extras.append(contentsOf: repeatElement(KeyExtra(), count: slot + 1 - pipelines[pi].extras.count))
            }
            if evicted != nil || pipelines[pi].windows.rowCount(slot: slot) == 0 { pipelines[pi].extras[slot] = KeyExtra() }
            // Only the newest `window_size` rows can matter.
            let first = max(0, s.timestamps.count - length)
            for r in first..<s.timestamps.count {
                var row = Array(s.values[(r * f)..<((r + 1) * f)])
                if row.contains(where: \.isNaN) {
                    let previous = config.windows.missingPolicy == .previous ? pipelines[pi].windows.newestRow(slot: slot) : nil
                    for c in 0..<f where row[c].isNaN { row[c] = previous?[c] ?? 0 }
                }
                let outcome = row.withUnsafeBufferPointer {
                    pipelines[pi].windows.append(slot: slot, timestamp: s.timestamps[r], row: $0, duplicates: .replace, late: .drop)
                }
                switch outcome {
                case .stored, .replaced: stored += 1
                case .rejectedDuplicate, .rejectedLate: break
                }
            }
            _ = models.lookup(modelID(pipelines[pi], key: s.key), now: now)
        }
        metrics.setKeys(keyCount, shard: shard)
        return stored
    }
}
