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

    public var rows: Int { timestamps.count }

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
        let names = metrics ?? header.enumerated().filter { $0.offset != tcol && $0.offset != labelIndex }.map(\.element)
        let cols = try names.map { (m) throws(CSVError) -> Int in
            guard let i = header.firstIndex(of: m) else {
                throw CSVError(source: source, line: 1, reason: "no column for metric \"\(m)\" (columns: \(header.joined(separator: ", ")))")
            }
            return i
        }
        var ts: [Int64] = [], vals: [Float] = [], labels: [Int] = []
        ts.reserveCapacity(rows.count)
        vals.reserveCapacity(rows.count * names.count)
        for r in rows {
            guard let t = parseTimestamp(r.fields[tcol]) else {
                throw CSVError(source: source, line: r.line, reason: "timestamp \"\(r.fields[tcol])\" is not epoch ms, epoch s or ISO 8601")
            }
            ts.append(t)
            for (k, c) in cols.enumerated() {
                let f = r.fields[c].trimmingWhitespace()
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
        return MetricTable(timestamps: ts, values: Tensor(shape: [ts.count, names.count], scalars: vals), metrics: names,
                           labels: labelIndex == nil ? nil : labels)
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

/// One output row of `aeflow score` / `aeflow backtest` (ARCHITECTURE.md §7).
public struct ScoredRow: Sendable {
    public var timestamp: Int64
    public var unified: Float?
    public var features: [Float]?
    public var errors: [Float]?
    public var status: String
    public var modelVersion: Int?

    public init(timestamp: Int64, unified: Float? = nil, features: [Float]? = nil, errors: [Float]? = nil, status: String, modelVersion: Int? = nil) {
        (self.timestamp, self.unified, self.features, self.errors, self.status, self.modelVersion) = (timestamp, unified, features, errors, status, modelVersion)
    }
}

extension ScoredRow {
    public static func csvHeader(metrics: [String]) -> String {
        (["timestamp", "unified"] + metrics.map { "\($0)_score" } + metrics.map { "\($0)_error" } + ["status"]).joined(separator: ",")
    }

    public func csvLine(features count: Int) -> String {
        func f(_ x: Float?) -> String { x.map { String($0) } ?? "" }
        var cells = [String(timestamp), f(unified)]
        cells += (0..<count).map { i in f(features?[i]) }
        cells += (0..<count).map { i in f(errors?[i]) }
        cells.append(status)
        return cells.joined(separator: ",")
    }
}
