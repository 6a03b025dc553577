/// A key's points read from a metrics store: timestamps (epoch ms, ascending, unique) and the pipeline's metric
/// values row by row (`timestamps.count × metrics`, NaN where the store had no value for a metric at that time).
public struct HistorySeries: Sendable, Equatable {
    public var key: [String]
    public var timestamps: [Int64]
    public var values: [Float]

    public init(key: [String], timestamps: [Int64], values: [Float]) { (self.key, self.timestamps, self.values) = (key, timestamps, values) }
}

/// Why history could not be read (the store's failure, said in its words).
public struct HistorySourceError: Error, Sendable, CustomStringConvertible {
    /// The label value metrics count it by (`unreachable`, `timeout`, `server_error`, …).
    public let reason: String
    public let detail: String
    public init(reason: String, detail: String) { (self.reason, self.detail) = (reason, detail) }
    public var description: String { "\(reason): \(detail)" }
}

/// Where a pipeline's history can be read from besides the stream (a Prometheus-compatible store): the retrain
/// stage trains new keys and catches up from it, the daemon fills windows from it. Blocking; thread-safe.
public protocol HistorySource: AnyObject, Sendable {
    /// Whether `target`'s pipeline reads history from this source.
    func serves(_ target: PointRouter.Target) -> Bool
    /// The step between points of `target`'s pipeline, in ms.
    func stepMs(_ target: PointRouter.Target) -> Int64
    /// How far back a training's history reaches for `target`, at most `maxRows` steps (ms).
    func lookbackMs(_ target: PointRouter.Target, maxRows: Int) -> Int64
    /// `target`'s series with points in `[startMs, endMs]` — one key's (`key`), or every key's (nil) — page by page,
    /// oldest first, each page handed to `page` before the next is read (memory stays bounded by a page).
    func fetchPages(_ target: PointRouter.Target, key: [String]?, startMs: Int64, endMs: Int64,
                    _ page: ([HistorySeries]) throws(HistorySourceError) -> Void) throws(HistorySourceError)
}

extension HistorySource {
    /// Every page of ``fetchPages(_:key:startMs:endMs:_:)`` joined: one series per key, oldest first (for ranges known
    /// to be small: a window, one key).
    public func fetch(_ target: PointRouter.Target, key: [String]?, startMs: Int64, endMs: Int64) throws(HistorySourceError) -> [HistorySeries] {
        var byKey: [[String]: HistorySeries] = [:]
        try fetchPages(target, key: key, startMs: startMs, endMs: endMs) { (page) throws(HistorySourceError) in
            for s in page {
                byKey[s.key, default: HistorySeries(key: s.key, timestamps: [], values: [])].timestamps += s.timestamps
                byKey[s.key]!.values += s.values
            }
        }
        return byKey.values.sorted { $0.key.lexicographicallyPrecedes($1.key) }
    }
}
