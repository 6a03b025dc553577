import Scoring
import TensorCore

/// A CSV file that cannot be used, with the line (1-based) and column where reading stopped.
public struct CSVError: Error, Equatable, CustomStringConvertible {
    public let source: String
    public let line: Int
    public let reason: String
    public var description: String { line > 0 ? "\(source):\(line): \(reason)" : "\(source): \(reason)" }
}

/// RFC 4180 CSV: comma-separated, `"`-quoted fields with `""` escapes, LF or CRLF line ends.
public enum CSV {
    public static func parse(_ text: String, source: String) throws(CSVError) -> (header: [String], rows: [(line: Int, fields: [String])]) {
        var rows: [(Int, [String])] = []
        var field = "", fields: [String] = []
        var inQuotes = false, line = 1, rowLine = 1, sawAny = false
        var it = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return it.next()
        }
        while let c = next() {
            sawAny = true
            if inQuotes {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; pending = n }
                    } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"":
                guard field.isEmpty else { throw CSVError(source: source, line: line, reason: "quote inside an unquoted field") }
                inQuotes = true
            case ",":
                fields.append(field); field = ""
            case "\r":
                continue
            case "\n":
                fields.append(field); field = ""
                if !(fields.count == 1 && fields[0].isEmpty) { rows.append((rowLine, fields)) }
                fields = []
                line += 1
                rowLine = line
            default:
                field.unicodeScalars.append(c)
            }
        }
        if inQuotes { throw CSVError(source: source, line: line, reason: "unterminated quoted field") }
        if sawAny && (!field.isEmpty || !fields.isEmpty) {
            fields.append(field)
            rows.append((rowLine, fields))
        }
        guard let first = rows.first else { throw CSVError(source: source, line: 0, reason: "empty file (a header row is required)") }
        let header = first.1.map { $0.trimmingWhitespace() }
        guard Set(header).count == header.count else { throw CSVError(source: source, line: first.0, reason: "duplicate column names") }
        let body = rows.dropFirst().map { (line: $0.0, fields: $0.1) }
        for r in body where r.fields.count != header.count {
            throw CSVError(source: source, line: r.line, reason: "\(r.fields.count) fields, the header has \(header.count)")
        }
        return (header, body)
    }

    /// Quotes a field when it needs it.
    public static func escape(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }
}

/// A metric table read from CSV: a `timestamp` column (epoch ms, epoch s, or ISO 8601) and metric columns.
public struct MetricTable: Sendable {
    public var timestamps: [Int64]
    /// `(N, F)`; empty cells and `nan` are NaN.
    public var values: Tensor
    public var metrics: [String]
    /// The optional label column (0/1), for backtests.
    public var labels: [Int]?
    /// The timestamp and metric cells as written in the file (`rows` and `rows × F`), so outputs can repeat them.
    public var timestampText: [String] = []
    public var valueText: [String] = []

    public var rows: Int { timestamps.count }

    /// A table from values read elsewhere (a metrics store): `values` is `timestamps.count × metrics.count`, row major.
    public init(timestamps: [Int64], values: Tensor, metrics: [String], labels: [Int]? = nil) {
        (self.timestamps, self.values, self.metrics, self.labels) = (timestamps, values, metrics, labels)
    }

    /// Reads `metrics` (all non-timestamp, non-label columns when nil) from CSV text.
    public static func parse(_ text: String, source: String, metrics: [String]? = nil, labelColumn: String? = nil) throws(CSVError) -> MetricTable {
        let (header, rows) = try CSV.parse(text, source: source)
        guard let tcol = header.firstIndex(of: "timestamp") else {
            throw CSVError(source: source, line: 1, reason: "no \"timestamp\" column (columns: \(header.joined(separator: ", ")))")
        }
        let labelIndex = labelColumn.flatMap { header.firstIndex(of: $0) }
        if let labelColumn, labelIndex == nil, labelColumn != "label" {
            throw CSVError(source: source, line: 1, reason: "no label column \"\(labelColumn)\"")
        }
        // Without a metric list: every numeric column except the timestamp, the label column and any column named `label`.
        let excluded = [tcol] + [labelIndex, header.firstIndex(of: "label")].compactMap { $0 }
        let names = metrics ?? numericColumns(header: header, rows: rows, excluding: excluded)
        guard !names.isEmpty else { throw CSVError(source: source, line: 1, reason: "no numeric metric columns besides timestamp/label") }
        let cols = try names.map { (m) throws(CSVError) -> Int in
            guard let i = header.firstIndex(of: m) else {
                throw CSVError(source: source, line: 1, reason: "no column for metric \"\(m)\" (columns: \(header.joined(separator: ", ")))")
            }
            return i
        }
        var ts: [Int64] = [], vals: [Float] = [], labels: [Int] = [], tsText: [String] = [], valText: [String] = []
        ts.reserveCapacity(rows.count)
        vals.reserveCapacity(rows.count * names.count)
        for r in rows {
            guard let t = parseTimestamp(r.fields[tcol]) else {
                throw CSVError(source: source, line: r.line, reason: "timestamp \"\(r.fields[tcol])\" is not epoch ms, epoch s or ISO 8601")
            }
            ts.append(t)
            tsText.append(r.fields[tcol])
            for (k, c) in cols.enumerated() {
                let f = r.fields[c].trimmingWhitespace()
                valText.append(f)
                if f.isEmpty || f.lowercased() == "nan" { vals.append(.nan); continue }
                guard let v = Float(f), v.isFinite else {
                    throw CSVError(source: source, line: r.line, reason: "\(names[k]) value \"\(f)\" is not a finite number")
                }
                vals.append(v)
            }
            if let li = labelIndex {
                let f = r.fields[li].trimmingWhitespace()
                guard let v = Double(f) else { throw CSVError(source: source, line: r.line, reason: "label \"\(f)\" is not a number") }
                labels.append(v > 0 ? 1 : 0)
            }
        }
        var table = MetricTable(timestamps: ts, values: Tensor(shape: [ts.count, names.count], scalars: vals), metrics: names,
                                labels: labelIndex == nil ? nil : labels)
        (table.timestampText, table.valueText) = (tsText, valText)
        return table
    }

    /// The same rows with only `metrics`, in that order.
    public func selecting(_ names: [String]) throws(CSVError) -> MetricTable {
        let cols = try names.map { (m) throws(CSVError) -> Int in
            guard let i = metrics.firstIndex(of: m) else {
                throw CSVError(source: "", line: 0, reason: "no column for metric \"\(m)\" (columns: \(metrics.joined(separator: ", ")))")
            }
            return i
        }
        let f = metrics.count
        var t = self
        t.metrics = names
        t.values = Tensor(shape: [rows, names.count], scalars: (0..<rows).flatMap { r in cols.map { values[r, $0] } })
        if !valueText.isEmpty { t.valueText = (0..<rows).flatMap { r in cols.map { valueText[r * f + $0] } } }
        return t
    }

    /// Columns (other than `excluding`) whose every non-empty cell is a number, in header order.
    static func numericColumns(header: [String], rows: [(line: Int, fields: [String])], excluding: [Int]) -> [String] {
        header.indices.filter { c in
            !excluding.contains(c) && rows.allSatisfy { r in
                let f = r.fields[c].trimmingWhitespace()
                return f.isEmpty || f.lowercased() == "nan" || Float(f) != nil
            }
        }.map { header[$0] }
    }

    public static func load(path: String, metrics: [String]? = nil, labelColumn: String? = nil) throws(CSVError) -> MetricTable {
        let bytes: [UInt8]
        do { bytes = try SafeTensorsFile.readBytes(contentsOf: path) } catch {
            throw CSVError(source: path, line: 0, reason: "cannot be read (\(error.problem))")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw CSVError(source: path, line: 0, reason: "is not UTF-8 text") }
        return try parse(text, source: path, metrics: metrics, labelColumn: labelColumn)
    }

    /// Epoch milliseconds from epoch ms (≥ 1e11), epoch seconds (may be fractional) or ISO 8601.
    public static func parseTimestamp(_ s: String) -> Int64? {
        let t = s.trimmingWhitespace()
        if let v = Double(t), v.isFinite {
            return abs(v) >= 1e11 ? Int64(v.rounded()) : Int64((v * 1000).rounded())
        }
        return RFC3339.parse(t)
    }

    /// Replaces NaN with the previous row's value of the same metric (0 before the first value);
    /// returns how many cells were filled.
    public mutating func forwardFill() -> Int {
        let f = metrics.count, n = rows
        var filled = 0
        values.withUnsafeMutableBufferPointer { v in
            for c in 0..<f {
                var last: Float = 0
                for r in 0..<n {
                    if v[r * f + c].isNaN { v[r * f + c] = last; filled += 1 } else { last = v[r * f + c] }
                }
            }
        }
        return filled
    }
}

/// The CSV that `aeflow score` and `aeflow backtest` write: one row per input row, in input order, repeating the
/// input's timestamp and metric cells as written, then `status`, `unified` (0–10), `is_anomaly`, and per metric
/// `<m>_score`, `<m>_expected` (the reconstruction in the metric's units) and `<m>_error` (the row's element-wise
/// error as the newest point of its window), and `model_version`. Empty cells where a row has no such value.
public enum ScoreCSV {
    public static func header(metrics: [String]) -> String {
        (["timestamp"] + metrics.map(CSV.escape) + ["status", "unified", "is_anomaly"] + metrics.map { CSV.escape("\($0)_score") }
            + metrics.map { CSV.escape("\($0)_expected") } + metrics.map { CSV.escape("\($0)_error") } + ["model_version"]).joined(separator: ",")
    }

    /// Row `i` of `table` with its backtest output.
    public static func line(_ table: MetricTable, row i: Int, _ r: BacktestRow) -> String {
        let f = table.metrics.count
        func num(_ x: Float?) -> String { x.map { $0.isFinite ? String($0) : "nan" } ?? "" }
        var cells = [CSV.escape(table.timestampText.isEmpty ? String(table.timestamps[i]) : table.timestampText[i])]
        for c in 0..<f { cells.append(table.valueText.isEmpty ? num(table.values[i, c]) : CSV.escape(table.valueText[i * f + c])) }
        cells += [r.outcome.text, num(r.unified), r.isAnomaly.map { $0 ? "true" : "false" } ?? ""]
        cells += (0..<f).map { num(r.features?[$0]) }
        cells += (0..<f).map { num(r.expected?[$0]) }
        cells += (0..<f).map { num(r.errors?[$0]) }
        cells.append(r.modelVersion.map(String.init) ?? "")
        return cells.joined(separator: ",")
    }

    public static func document(_ table: MetricTable, _ rows: [BacktestRow]) -> String {
        precondition(rows.count == table.rows, "\(rows.count) output rows for \(table.rows) input rows")
        var out = header(metrics: table.metrics) + "\n"
        for (i, r) in rows.enumerated() { out += line(table, row: i, r) + "\n" }
        return out
    }
}
