import Scoring
import SystemCalls
import TensorCore

/// One labelled series of an evaluation corpus.
public struct LabelledSeries: Sendable {
    /// Path relative to the corpus root, e.g. `realKnownCause/nyc_taxi.csv`.
    public var name: String
    /// The directory part of `name` (`.` for files at the root): results are reported per category.
    public var category: String
    public var table: MetricTable
    public var windows: [LabelledWindow]

    /// Row flags: inside some window.
    public var pointLabels: [Bool] {
        var l = [Bool](repeating: false, count: table.rows)
        for w in windows { for r in w.first...w.last { l[r] = true } }
        return l
    }
}

/// Why a corpus could not be read.
public struct CorpusError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// A directory of labelled series, read the way `aeflow evaluate` documents it:
///
/// * every `*.csv` below the root is a series (`timestamp` column and metric columns; its directory relative to
///   the root is its category);
/// * its labels are, in this order: a 0/1 `label` column (each run of 1s is one window); a JSON file beside it
///   with the same stem (`series.json`: a list of `[start, end]` timestamps); or an entry for its relative path in
///   a `labels.json` at the root (the Numenta Anomaly Benchmark's `combined_windows.json` format);
///   a series with none of these is an error, and one listed with no windows has no events;
/// * a window's rows are those whose timestamps fall within `[start, end]`.
public enum LabelledCorpus {
    public static func load(root: String) throws(CorpusError) -> [LabelledSeries] {
        let files = csvFiles(root, relative: "")
        guard !files.isEmpty else { throw CorpusError(path: root, reason: "no .csv files") }
        let shared: JSONObject? = try readJSON(root + "/labels.json").map { (v) throws(CorpusError) -> JSONObject in
            guard let o = v.objectValue else { throw CorpusError(path: root + "/labels.json", reason: "expected an object of series paths") }
            return o
        }
        return try files.map { (rel) throws(CorpusError) -> LabelledSeries in try loadSeries(root: root, relative: rel, shared: shared) }
    }

    static func loadSeries(root: String, relative rel: String, shared: JSONObject?) throws(CorpusError) -> LabelledSeries {
        let path = root + "/" + rel
        let text: String
        do {
            let bytes = try SafeTensorsFile.readBytes(contentsOf: path)
            guard let t = String(validating: bytes, as: UTF8.self) else { throw CorpusError(path: path, reason: "is not UTF-8 text") }
            text = t
        } catch let e as CorpusError { throw e } catch { throw CorpusError(path: path, reason: "cannot be read (\(error))") }
        let header = text.prefix { $0 != "\n" && $0 != "\r" }.split(separator: ",").map { String($0).trimmingWhitespace() }
        let hasLabel = header.contains("label")
        var table: MetricTable
        do { table = try MetricTable.parse(text, source: path, labelColumn: hasLabel ? "label" : nil) } catch {
            throw CorpusError(path: path, reason: error.reason + (error.line > 0 ? " (line \(error.line))" : ""))
        }
        guard table.rows > 0 else { throw CorpusError(path: path, reason: "no rows") }
        let windows: [LabelledWindow]
        if let labels = table.labels {
            windows = runs(labels)
            table.labels = nil
        } else {
            let stem = rel.hasSuffix(".csv") ? String(rel.dropLast(4)) : rel
            let spans: JSONValue
            if let beside = try readJSON(root + "/" + stem + ".json") {
                spans = beside
            } else if let s = shared?[rel] {
                spans = s
            } else {
                throw CorpusError(path: path, reason: "no labels: no label column, no \(stem).json and no entry in labels.json")
            }
            windows = try rowsOf(spans, table.timestamps, path: path)
        }
        let category = rel.contains("/") ? String(rel[..<rel.lastIndex(of: "/")!]) : "."
        return LabelledSeries(name: rel, category: category, table: table, windows: windows)
    }

    /// Runs of 1 in a 0/1 column.
    public static func runs(_ labels: [Int]) -> [LabelledWindow] {
        var out: [LabelledWindow] = []
        var start: Int? = nil
        for (i, l) in labels.enumerated() {
            if l != 0, start == nil { start = i }
            if l == 0, let s = start { out.append(LabelledWindow(first: s, last: i - 1)); start = nil }
        }
        if let s = start { out.append(LabelledWindow(first: s, last: labels.count - 1)) }
        return out
    }

    /// `[[start, end], …]` timestamps (any form the CSV reader takes) to row windows; windows that hold no row
    /// are dropped. Overlapping windows are merged.
    static func rowsOf(_ spans: JSONValue, _ ts: [Int64], path: String) throws(CorpusError) -> [LabelledWindow] {
        guard let list = spans.arrayValue else { throw CorpusError(path: path, reason: "labels: expected a list of [start, end] pairs") }
        var out: [LabelledWindow] = []
        for (i, item) in list.enumerated() {
            guard let pair = item.arrayValue, pair.count == 2 else { throw CorpusError(path: path, reason: "labels[\(i)]: expected [start, end]") }
            func time(_ v: JSONValue) -> Int64? {
                if let s = v.stringValue { return MetricTable.parseTimestamp(s) }
                return v.doubleValue.flatMap { MetricTable.parseTimestamp(String($0)) }
            }
            guard let a = time(pair[0]), let b = time(pair[1]), a <= b else {
                throw CorpusError(path: path, reason: "labels[\(i)]: \(pair[0]) … \(pair[1]) is not a time span")
            }
            // Rows are in file order; a window is the first and last row whose time is inside the span.
            guard let first = ts.firstIndex(where: { $0 >= a && $0 <= b }), let last = ts.lastIndex(where: { $0 >= a && $0 <= b }) else { continue }
            out.append(LabelledWindow(first: first, last: last))
        }
        out.sort { $0.first < $1.first }
        var merged: [LabelledWindow] = []
        for w in out {
            if let l = merged.last, w.first <= l.last + 1 { merged[merged.count - 1].last = max(l.last, w.last) } else { merged.append(w) }
        }
        return merged
    }

    static func readJSON(_ path: String) throws(CorpusError) -> JSONValue? {
        guard let bytes = try? SafeTensorsFile.readBytes(contentsOf: path) else { return nil }
        do { return try JSONValue.parse(bytes) } catch { throw CorpusError(path: path, reason: "is not valid JSON (\(error))") }
    }

    /// `*.csv` files below `root`, sorted, relative paths.
    static func csvFiles(_ root: String, relative: String) -> [String] {
        let dir = relative.isEmpty ? root : root + "/" + relative
        var out: [String] = []
        for name in CheckpointStore.listDirectory(dir).sorted() where !name.hasPrefix(".") {
            let rel = relative.isEmpty ? name : relative + "/" + name
            if name.hasSuffix(".csv") { out.append(rel) } else if Files.isDirectory(root + "/" + rel) { out += csvFiles(root, relative: rel) }
        }
        return out
    }

}

