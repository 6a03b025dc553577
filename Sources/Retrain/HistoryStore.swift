import Foundation
import GRDB
import TensorCore

/// One point of history: a pipeline's metric values for a key at a time (epoch ms). A missing value is NaN
/// (filled by the pipeline's missing-value policy when a training reads it).
public struct HistoryRow: Sendable, Equatable {
    public var pipelineID: String
    public var key: [String]
    public var timestamp: Int64
    public var values: [Float]

    public init(pipelineID: String, key: [String], timestamp: Int64, values: [Float]) {
        (self.pipelineID, self.key, self.timestamp, self.values) = (pipelineID, key, timestamp, values)
    }
}

/// A pipeline's retention: a key's rows older than `spanMs` before that key's newest point go, and a key whose
/// newest point is older than `spanMs` before the median key's is forgotten (numalogic's `train_hours`, measured
/// in event time so that replays and clock skew keep their history; no single key can age out another's).
public struct Retention: Sendable, Equatable {
    public var spanMs: Int64
    public init(spanMs: Int64) { self.spanMs = spanMs }
}

/// Errors of the history store (SQLite), with what was being done.
public struct HistoryError: Error, CustomStringConvertible {
    public let operation: String
    public let reason: String
    public var description: String { "history store: \(operation): \(reason)" }
    init(_ operation: String, _ error: Error) { (self.operation, self.reason) = (operation, "\(error)") }
    init(_ operation: String, reason: String) { (self.operation, self.reason) = (operation, reason) }
}

/// The retrain stage's durable state in one SQLite file (GRDB, WAL): per (pipeline, key) point history
/// with retention by age and by row count, and the training de-duplication state per model (so that it
/// survives restarts and is shared by every process using the file).
///
/// Tables: `series` (one row per pipeline and key, with its row count and newest timestamp), `points`
/// (`(series, ts)` primary key: a second point at the same time replaces the first, as the daemon's
/// windows do), `train_state` (one row per model: numalogic's `_msg_read_ts`, `_msg_train_ts`,
/// `_msg_train_records`, plus the pending request and the last outcome).
public final class HistoryStore: @unchecked Sendable {
    // @unchecked: `pool` is thread-safe (GRDB); `seriesCache` is guarded by `lock`.
    public let path: String
    public let maxRowsPerKey: Int
    let pool: DatabasePool
    private let lock = NSLock()
    private var seriesCache: [SeriesName: Int64] = [:]

    /// A series by pipeline and key values (hashed as given: no JSON on the write path once known).
    struct SeriesName: Hashable { let pipeline: String; let key: [String] }

    static let schemaVersion = 1

    public init(path: String, maxRowsPerKey: Int) throws(HistoryError) {
        (self.path, self.maxRowsPerKey) = (path, maxRowsPerKey)
        if let slash = path.lastIndex(of: "/") {
            try? FileManager.default.createDirectory(atPath: String(path[..<slash]), withIntermediateDirectories: true)
        }
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.label = "aeflow.history"
        config.prepareDatabase { db in
            // WAL with NORMAL sync: a killed process loses nothing committed; a power cut may lose the last
            // transactions, never the file's consistency.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Points arrive interleaved over many keys: a larger page cache keeps the B-tree's hot pages.
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try pool.write { db in try Self.migrate(db) }
        } catch {
            throw HistoryError("open \(path)", error)
        }
    }

    static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS series(
                id INTEGER PRIMARY KEY,
                pipeline TEXT NOT NULL,
                key TEXT NOT NULL,
                rows INTEGER NOT NULL DEFAULT 0,
                newest INTEGER,
                UNIQUE(pipeline, key));
            CREATE TABLE IF NOT EXISTS points(
                series INTEGER NOT NULL,
                ts INTEGER NOT NULL,
                vals BLOB NOT NULL,
                PRIMARY KEY(series, ts)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS train_state(
                pipeline TEXT NOT NULL,
                model_key TEXT NOT NULL,
                requested_at REAL,
                forced INTEGER NOT NULL DEFAULT 0,
                read_ts REAL,
                train_ts REAL,
                train_records INTEGER,
                running_since REAL,
                last_outcome TEXT,
                last_detail TEXT,
                last_version INTEGER,
                trainings INTEGER NOT NULL DEFAULT 0,
                failures INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY(pipeline, model_key)) WITHOUT ROWID;
            """)
        let version = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE name = 'schema_version'")
        if let version, Int(version) != schemaVersion {
            throw HistoryError("open", reason: "schema version \(version), this build reads \(schemaVersion)")
        }
        try db.execute(sql: "INSERT OR IGNORE INTO meta(name, value) VALUES ('schema_version', ?)", arguments: [String(schemaVersion)])
    }

    /// The canonical text of a composite key (a JSON array), used in every table.
    public static func keyText(_ key: [String]) -> String { JSONValue.array(key.map { .string($0) }).serialized() }

    static func keyValues(_ text: String) -> [String]? {
        guard case .array(let a)? = try? JSONValue.parse(text) else { return nil }
        let out = a.compactMap(\.stringValue)
        return out.count == a.count ? out : nil
    }

    // MARK: points

    /// What an append did.
    public struct AppendResult: Sendable, Equatable {
        public var inserted = 0
        public var replaced = 0
        public var trimmed = 0
    }

    /// Appends rows in one transaction. Series over `maxRowsPerKey` (by more than a little slack, so that
    /// trimming is amortised) are trimmed to their newest `maxRowsPerKey` rows in the same transaction.
    @discardableResult
    public func append(_ rows: [HistoryRow]) throws(HistoryError) -> AppendResult {
        guard !rows.isEmpty else { return AppendResult() }
        do {
            return try pool.write { db in
                var result = AppendResult()
                var touched: [Int64: (rows: Int, newest: Int64)] = [:]
                var ids: [SeriesName: Int64] = [:]
                let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO points(series, ts, vals) VALUES (?, ?, ?)")
                let replace = try db.cachedStatement(sql: "UPDATE points SET vals = ? WHERE series = ? AND ts = ?")
                for row in rows {
                    let name = SeriesName(pipeline: row.pipelineID, key: row.key)
                    let id: Int64
                    if let known = ids[name] { id = known } else {
                        id = try seriesID(db, name)
                        ids[name] = id
                    }
                    let blob = row.values.withUnsafeBytes { Data($0) }
                    try insert.execute(arguments: [id, row.timestamp, blob])
                    var t = touched[id] ?? (0, .min)
                    if db.changesCount == 1 {
                        result.inserted += 1
                        t.rows += 1
                    } else {
                        try replace.execute(arguments: [blob, id, row.timestamp])
                        result.replaced += 1
                    }
                    t.newest = max(t.newest, row.timestamp)
                    touched[id] = t
                }
                let update = try db.cachedStatement(sql: "UPDATE series SET rows = rows + ?, newest = max(coalesce(newest, ?), ?) WHERE id = ?")
                let slack = max(64, maxRowsPerKey / 20)
                for (id, t) in touched {
                    try update.execute(arguments: [t.rows, t.newest, t.newest, id])
                    let count = try Int.fetchOne(db, sql: "SELECT rows FROM series WHERE id = ?", arguments: [id]) ?? 0
                    if count > maxRowsPerKey + slack {
                        result.trimmed += try trimSeries(db, id: id, keep: maxRowsPerKey)
                    }
                }
                return result
            }
        } catch {
            forgetCache()   // the transaction rolled back: cached counts may be ahead of the file
            throw (error as? HistoryError) ?? HistoryError("append", error)
        }
    }

    private func setCached(_ name: SeriesName, id: Int64) {
        lock.lock(); defer { lock.unlock() }
        if seriesCache.count > 1_000_000 { seriesCache.removeAll() }
        seriesCache[name] = id
    }
    private func forgetCache() { lock.lock(); seriesCache.removeAll(); lock.unlock() }

    private func seriesID(_ db: Database, _ name: SeriesName) throws -> Int64 {
        lock.lock()
        let cached = seriesCache[name]
        lock.unlock()
        if let cached { return cached }
        let text = Self.keyText(name.key)
        if let id = try Int64.fetchOne(db, sql: "SELECT id FROM series WHERE pipeline = ? AND key = ?", arguments: [name.pipeline, text]) {
            setCached(name, id: id)
            return id
        }
        try db.execute(sql: "INSERT INTO series(pipeline, key) VALUES (?, ?)", arguments: [name.pipeline, text])
        let id = db.lastInsertedRowID
        setCached(name, id: id)
        return id
    }

    /// Deletes all but the newest `keep` rows of a series; returns how many went.
    private func trimSeries(_ db: Database, id: Int64, keep: Int) throws -> Int {
        guard let cutoff = try Int64.fetchOne(db, sql: "SELECT ts FROM points WHERE series = ? ORDER BY ts DESC LIMIT 1 OFFSET ?",
                                              arguments: [id, keep]) else { return 0 }
        try db.execute(sql: "DELETE FROM points WHERE series = ? AND ts <= ?", arguments: [id, cutoff])
        let n = db.changesCount
        try db.execute(sql: "UPDATE series SET rows = rows - ? WHERE id = ?", arguments: [n, id])
        return n
    }

    /// Applies retention by age per key (rows older than the span before the key's own newest point)
    /// and by count, and forgets series left empty. Returns the rows deleted.
    @discardableResult
    public func enforceRetention(_ retention: [String: Retention]) throws(HistoryError) -> Int {
        do {
            let n = try pool.write { db -> Int in
                var deleted = 0
                for (pipeline, r) in retention.sorted(by: { $0.key < $1.key }) {
                    // Per key: one key's points (a far-future timestamp, say) never age out another key's history.
                    // A key that stopped (its newest point older than the span before the pipeline's median key)
                    // is forgotten; a median cannot be moved by a minority of keys.
                    let series = try Row.fetchAll(db, sql: "SELECT id, newest FROM series WHERE pipeline = ? AND newest IS NOT NULL",
                                                  arguments: [pipeline]).map { (id: $0[0] as Int64, newest: $0[1] as Int64) }
                    let newests = series.map(\.newest).sorted()
                    let median = newests.isEmpty ? Int64.min : newests[(newests.count - 1) / 2]
                    for (id, newest) in series {
                        let (own, o1) = newest.subtractingReportingOverflow(r.spanMs)
                        let (stale, o2) = median.subtractingReportingOverflow(r.spanMs)
                        let cutoff = newest < (o2 ? Int64.min : stale) ? Int64.max : (o1 ? Int64.min : own)
                        try db.execute(sql: "DELETE FROM points WHERE series = ? AND ts < ?", arguments: [id, cutoff])
                        let c = db.changesCount
                        if c > 0 {
                            deleted += c
                            try db.execute(sql: "UPDATE series SET rows = rows - ? WHERE id = ?", arguments: [c, id])
                        }
                    }
                }
                for row in try Row.fetchAll(db, sql: "SELECT id FROM series WHERE rows > ?", arguments: [maxRowsPerKey]) {
                    deleted += try trimSeries(db, id: row[0], keep: maxRowsPerKey)
                }
                try db.execute(sql: "DELETE FROM series WHERE rows <= 0")
                return deleted
            }
            forgetCache()
            return n
        } catch {
            throw HistoryError("retention", error)
        }
    }

    /// A series' rows, oldest first: timestamps and `(rows, features)` values (NaN where missing).
    public struct Series: Sendable {
        public var key: [String]
        public var timestamps: [Int64]
        public var values: [Float]
        public var features: Int
        public var count: Int { timestamps.count }
    }

    /// The newest rows (at most `limit`) of one key no older than `spanMs` before its newest point.
    public func series(pipeline: String, key: [String], spanMs: Int64?, limit: Int) throws(HistoryError) -> Series? {
        do {
            return try pool.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT id, newest FROM series WHERE pipeline = ? AND key = ?",
                                                 arguments: [pipeline, Self.keyText(key)]) else { return nil }
                let id: Int64 = row[0]
                let newest: Int64? = row[1]
                return try Self.readSeries(db, id: id, key: key, since: spanMs.flatMap { s in newest.map { $0 - s } } ?? .min, limit: limit)
            }
        } catch {
            throw HistoryError("read \(pipeline) \(key)", error)
        }
    }

    /// Every key of a pipeline, each as its own series (for a model shared by the pipeline), newest keys
    /// first, at most `limit` rows in all.
    public func allSeries(pipeline: String, spanMs: Int64?, limit: Int) throws(HistoryError) -> [Series] {
        do {
            return try pool.read { db in
                var out: [Series] = []
                var left = limit
                let newestAll = try Int64.fetchOne(db, sql: "SELECT max(newest) FROM series WHERE pipeline = ?", arguments: [pipeline])
                let since = spanMs.flatMap { s in newestAll.map { $0 - s } } ?? .min
                for row in try Row.fetchAll(db, sql: "SELECT id, key FROM series WHERE pipeline = ? ORDER BY newest DESC, id", arguments: [pipeline]) {
                    guard left > 0 else { break }
                    guard let key = Self.keyValues(row[1]) else { continue }
                    let s = try Self.readSeries(db, id: row[0], key: key, since: since, limit: left)
                    left -= s.count
                    if s.count > 0 { out.append(s) }
                }
                return out
            }
        } catch {
            throw HistoryError("read \(pipeline)", error)
        }
    }

    private static func readSeries(_ db: Database, id: Int64, key: [String], since: Int64, limit: Int) throws -> Series {
        var ts: [Int64] = []
        var values: [Float] = []
        var features = -1
        // Newest first with the limit, then reversed into time order.
        let cursor = try Row.fetchCursor(db, sql: "SELECT ts, vals FROM points WHERE series = ? AND ts >= ? ORDER BY ts DESC LIMIT ?",
                                         arguments: [id, since, limit])
        var rows: [(Int64, [Float])] = []
        while let row = try cursor.next() {
            let data: Data = row[1]
            let n = data.count / 4
            if features < 0 { features = n }
            guard n == features else { continue }   // a pipeline whose metric list changed: keep the newest shape
            let v = data.withUnsafeBytes { raw in (0..<n).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
            rows.append((row[0], v))
        }
        for (t, v) in rows.reversed() {
            ts.append(t)
            values += v
        }
        return Series(key: key, timestamps: ts, values: values, features: max(features, 0))
    }

    /// Row counts per key of a pipeline (from the `series` table, not a scan).
    public func rowCounts(pipeline: String) throws(HistoryError) -> [(key: [String], rows: Int)] {
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT key, rows FROM series WHERE pipeline = ? ORDER BY id", arguments: [pipeline]).compactMap { r in
                    Self.keyValues(r[0]).map { ($0, r[1]) }
                }
            }
        } catch {
            throw HistoryError("count \(pipeline)", error)
        }
    }

    /// Rows held in all, and keys.
    public func totals() throws(HistoryError) -> (rows: Int, keys: Int) {
        do {
            return try pool.read { db in
                let row = try Row.fetchOne(db, sql: "SELECT coalesce(sum(rows), 0), count(*) FROM series")!
                return (row[0], row[1])
            }
        } catch {
            throw HistoryError("totals", error)
        }
    }

    /// SQLite's own check of the file (`PRAGMA integrity_check`): "ok" when sound.
    public func integrityCheck() throws(HistoryError) -> String {
        do { return try pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" } } catch {
            throw HistoryError("integrity check", error)
        }
    }
}
