import Foundation
import Logging
import SystemCalls

/// A `RateLimitedLog` shared across threads (the ZAP handler's refusals).
public final class RateLimitedLogBox: @unchecked Sendable {
    // @unchecked: `log` is mutated under `lock`.
    private let lock = NSLock()
    private var log: RateLimitedLog
    public init(logger: Logger) { log = RateLimitedLog(logger: logger, perSeconds: 10) }
    public func log(_ message: Logger.Message, _ fields: [String: String]) { lock.lock(); log.log(message, fields); lock.unlock() }
}

/// At most one log line per reason per interval, with a count of what was suppressed.
public struct RateLimitedLog {
    let logger: Logger
    let perSeconds: Double
    public init(logger: Logger, perSeconds: Double) { (self.logger, self.perSeconds) = (logger, perSeconds) }
    var last: [String: (time: Double, suppressed: Int)] = [:]

    public mutating func log(_ message: Logger.Message, _ fields: [String: String]) {
        let reason = fields["reason"] ?? ""
        let now = MonotonicClock.now()
        if let l = last[reason], now - l.time < perSeconds {
            last[reason]!.suppressed += 1
            return
        }
        var meta: Logger.Metadata = fields.mapValues { .string($0) }
        if let s = last[reason]?.suppressed, s > 0 { meta["suppressed"] = "\(s)" }
        logger.warning(message, metadata: meta)
        last[reason] = (now, 0)
    }
}

