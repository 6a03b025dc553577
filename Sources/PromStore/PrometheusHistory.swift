import Foundation
import Logging
import Stage
import TensorCore

/// History from a Prometheus-compatible store (Prometheus, VictoriaMetrics: the same HTTP query API) for the
/// pipelines whose stream's `source` is `prometheus`: one range query per metric (`/api/v1/query_range`), paged so
/// that no answer holds more than `max_points_per_query` points per series, retried with backoff, joined by
/// timestamp into rows keyed by the stream's `composite_keys` labels.
public final class PrometheusHistory: HistorySource, @unchecked Sendable {
    // @unchecked: every stored property is immutable and Sendable; `StoreClient` is thread-safe.
    public let conf: PrometheusConf
    public let client: StoreClient
    let metrics: StoreMetrics
    let logger: Logger

    public init(_ conf: PrometheusConf, metrics: StoreMetrics, logger: Logger) throws(StoreFailure) {
        self.conf = conf
        client = try StoreClient(conf.endpoint)
        (self.metrics, self.logger) = (metrics, logger)
    }

    public func serves(_ target: PointRouter.Target) -> Bool { target.pipeline.prometheus != nil }

    public func stepMs(_ target: PointRouter.Target) -> Int64 {
        Int64(((target.pipeline.prometheus?.stepSeconds ?? conf.scrapeInterval) * 1000).rounded())
    }

    /// How far back a training's history reaches for `target`: the pipeline's `lookback_hours`, else the trainer's
    /// `train_hours`, and never more than `max_rows` steps.
    public func lookbackMs(_ target: PointRouter.Target, maxRows: Int) -> Int64 {
        let hours = target.pipeline.prometheus?.lookbackHours ?? target.pipeline.numalogicConf.trainer.trainHours
        return min(Int64(hours * 3_600_000), stepMs(target) * Int64(max(maxRows - 1, 1)))
    }

    /// `target`'s series page by page, oldest first: every metric's query over the same step instants, joined into rows
    /// by key and timestamp, handed to `page` before the next is read. A page spans at most `max_points_per_query` steps,
    /// and fewer when the range holds many series (`max_samples_per_query` over them: counted first by one coarse query of
    /// the first metric when the range is long, then the most any page held), so memory stays bounded whatever the key
    /// count.
    public func fetchPages(_ target: PointRouter.Target, key: [String]?, startMs: Int64, endMs: Int64,
                           _ page: ([HistorySeries]) throws(HistorySourceError) -> Void) throws(HistorySourceError) {
        guard let source = target.pipeline.prometheus else { return }
        let names = target.stream.compositeKeys
        let step = max(stepMs(target), 1)
        let f = target.pipeline.metrics.count
        let queries = source.queries.map { q in key.map { Self.restrict(q, names: names, values: $0) } ?? q }
        var s = (startMs + step - 1).floorDiv(step) * step
        guard s <= endMs else { return }
        // How many series the range holds, from one coarse query of the first metric (at most 100 instants over the
        // whole range): pages are sized by it from the first, and by the most any page has held since.
        var seriesSeen = 1
        let coarse = max(step, ((endMs - s) / 100 + step - 1) / step * step)
        if endMs - s > step * Int64(min(conf.maxPointsPerQuery, conf.maxSamplesPerQuery)) / 100 {
            seriesSeen = max(1, try rangeQuery(queries[0], startMs: s, endMs: endMs, stepMs: coarse).count)
        }
        while s <= endMs {
            let points = max(2, min(conf.maxPointsPerQuery, conf.maxSamplesPerQuery / seriesSeen))
            let e = min(s + step * Int64(points - 1), endMs)
            // Rows by key, then by timestamp: a row's metric values (NaN until a query gives one).
            var rows: [[String]: [Int64: [Float]]] = [:]
            for (m, q) in queries.enumerated() {
                let answer = try rangeQuery(q, startMs: s, endMs: e, stepMs: step)
                seriesSeen = max(seriesSeen, answer.count)
                for series in answer {
                    guard let k = Self.key(of: series.labels, names: names), key == nil || k == key! else { continue }
                    var byTime = rows[k] ?? [:]
                    for (t, v) in zip(series.timestamps, series.values) {
                        var row = byTime[t] ?? [Float](repeating: .nan, count: f)
                        row[m] = v
                        byTime[t] = row
                    }
                    rows[k] = byTime
                }
            }
            var out: [HistorySeries] = []
            for (k, byTime) in rows {
                let ts = byTime.keys.sorted()
                var values: [Float] = []
                values.reserveCapacity(ts.count * f)
                for t in ts { values += byTime[t]! }
                out.append(HistorySeries(key: k, timestamps: ts, values: values))
            }
            out.sort { $0.key.lexicographicallyPrecedes($1.key) }
            if !out.isEmpty { try page(out) }
            s = e - (e - s) % step + step
        }
    }

    /// One row per step in `[startMs, endMs]` from `queries` (one per metric, in order), each of which must answer with
    /// exactly one series (a backtest straight from the store). Rows where no query had a value are left out.
    public func table(queries: [String], startMs: Int64, endMs: Int64, stepMs: Int64) throws(HistorySourceError) -> HistorySeries {
        let f = queries.count
        var byTime: [Int64: [Float]] = [:]
        for (m, q) in queries.enumerated() {
            var seen: [String: String]? = nil
            for page in Self.pages(startMs: startMs, endMs: endMs, stepMs: stepMs, maxPoints: conf.maxPointsPerQuery) {
                let series = try rangeQuery(q, startMs: page.start, endMs: page.end, stepMs: stepMs)
                guard series.count <= 1 else {
                    let sets = series.prefix(3).map { $0.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") }
                    throw HistorySourceError(reason: "ambiguous", detail: "\(q) answers with \(series.count) series ({\(sets.joined(separator: "}, {"))}…): narrow it to one")
                }
                guard let s = series.first else { continue }
                if let seen, seen != s.labels {
                    throw HistorySourceError(reason: "ambiguous", detail: "\(q) answers with different series on different pages")
                }
                seen = s.labels
                for (t, v) in zip(s.timestamps, s.values) {
                    var row = byTime[t] ?? [Float](repeating: .nan, count: f)
                    row[m] = v
                    byTime[t] = row
                }
            }
        }
        let ts = byTime.keys.sorted()
        return HistorySeries(key: [], timestamps: ts, values: ts.flatMap { byTime[$0]! })
    }

    /// One series of a range query's answer.
    struct Series {
        var labels: [String: String]
        var timestamps: [Int64]
        var values: [Float]
    }

    /// `[start, end]` split into ranges of at most `maxPoints` evaluation steps, aligned to multiples of the step (so
    /// every metric and every page is evaluated at the same instants).
    static func pages(startMs: Int64, endMs: Int64, stepMs: Int64, maxPoints: Int) -> [(start: Int64, end: Int64)] {
        let first = (startMs + stepMs - 1).floorDiv(stepMs) * stepMs
        guard first <= endMs else { return [] }
        var out: [(Int64, Int64)] = []
        var s = first
        let span = stepMs * Int64(max(maxPoints, 2) - 1)
        while s <= endMs {
            let e = min(s + span, endMs)
            out.append((s, e))
            s = e - (e - s) % stepMs + stepMs
        }
        return out
    }

    /// `query` limited to one key: label matchers added when it is a plain selector (`name`, `name{…}`, `{…}`);
    /// any other query is returned as it is (its answer is filtered by the key's labels).
    public static func restrict(_ query: String, names: [String], values: [String]) -> String {
        guard names.count == values.count, !names.isEmpty else { return query }
        let q = query.trimmingCharacters(in: .whitespaces)
        let matchers = zip(names, values).map { "\($0)=\"\(escape($1))\"" }.joined(separator: ",")
        var name = Substring(q)
        var inner: Substring? = nil
        if let open = q.firstIndex(of: "{") {
            guard q.hasSuffix("}"), q.firstIndex(of: "}") == q.index(before: q.endIndex) || !q[open...].dropFirst().dropLast().contains("}")
            else { return query }
            name = q[..<open]
            inner = q[q.index(after: open)..<q.index(before: q.endIndex)]
        }
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }),
              name.first.map({ !$0.isNumber }) ?? true else { return query }
        guard let inner, !inner.trimmingCharacters(in: .whitespaces).isEmpty else { return "\(name){\(matchers)}" }
        return "\(name){\(inner),\(matchers)}"
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// The key a series belongs to: its values of the stream's key labels (nil when one is missing).
    static func key(of labels: [String: String], names: [String]) -> [String]? {
        var k: [String] = []
        for n in names {
            guard let v = labels[n] else { return nil }
            k.append(v)
        }
        return k
    }

    static func seconds(_ ms: Int64) -> String {
        ms % 1000 == 0 ? String(ms / 1000) : String(format: "%.3f", Double(ms) / 1000)
    }

    static func formEncode(_ pairs: [(String, String)]) -> [UInt8] {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return Array(pairs.map { "\($0)=\($1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&").utf8)
    }

    /// One page: `POST /api/v1/query_range` (form-encoded, so long queries fit), retried per the endpoint.
    func rangeQuery(_ query: String, startMs: Int64, endMs: Int64, stepMs: Int64) throws(HistorySourceError) -> [Series] {
        let body = Self.formEncode([("query", query), ("start", Self.seconds(startMs)), ("end", Self.seconds(endMs)), ("step", Self.seconds(stepMs))])
        let answer = client.send(.POST, "/api/v1/query_range", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body,
                                 onRetry: { [metrics, logger] failure in
            metrics.fetchRetries.increment()
            logger.debug("history query retried", metadata: ["error": "\(failure)"])
        })
        switch answer {
        case .failure(let failure):
            metrics.fetched(failure.reason)
            throw HistorySourceError(reason: failure.reason, detail: "\(query): \(failure)")
        case .success(let a):
            do {
                let series = try Self.parseMatrix(a.body)
                metrics.fetched("ok")
                metrics.fetchPoints.increment(by: Int64(series.reduce(0) { $0 + $1.timestamps.count }))
                return series
            } catch {
                metrics.fetched(error.reason)
                throw HistorySourceError(reason: error.reason, detail: "\(query): \(error)")
            }
        }
    }

    /// The `matrix` answer of the query API: `{"status":"success","data":{"resultType":"matrix","result":[{"metric":
    /// {…},"values":[[<seconds>,"<value>"],…]},…]}}`. Values are strings ("NaN", "+Inf" included).
    static func parseMatrix(_ body: [UInt8]) throws(StoreFailure) -> [Series] {
        let root: JSONValue
        do { root = try JSONValue.parse(body) } catch { throw .badResponse("not JSON: \(error)") }
        guard let o = root.objectValue, o["status"]?.stringValue == "success", let data = o["data"]?.objectValue else {
            throw .badResponse("status is not success: \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
        guard data["resultType"]?.stringValue == "matrix", let result = data["result"]?.arrayValue else {
            throw .badResponse("expected a matrix result, got \(data["resultType"]?.stringValue ?? "none")")
        }
        var out: [Series] = []
        for item in result {
            guard let s = item.objectValue, let labels = s["metric"]?.objectValue, let values = s["values"]?.arrayValue else {
                throw .badResponse("a series without metric or values")
            }
            var l: [String: String] = [:]
            for (k, v) in labels { l[k] = v.stringValue ?? "" }
            var ts: [Int64] = [], vs: [Float] = []
            ts.reserveCapacity(values.count)
            vs.reserveCapacity(values.count)
            for pair in values {
                guard let p = pair.arrayValue, p.count == 2, let seconds = p[0].doubleValue, let text = p[1].stringValue, let v = Double(text) else {
                    throw .badResponse("a sample that is not [time, \"value\"]")
                }
                ts.append(Int64((seconds * 1000).rounded()))
                vs.append(Float(v))
            }
            out.append(Series(labels: l, timestamps: ts, values: vs))
        }
        return out
    }
}

extension Int64 {
    /// Division rounding towards negative infinity.
    func floorDiv(_ d: Int64) -> Int64 { let q = self / d; return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q }
}
