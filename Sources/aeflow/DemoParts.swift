import Daemon
import Stage
import Foundation
import Scoring
import Offline
import TensorCore
import Training
import ZMQ

#if canImport(Glibc)
import Glibc
import SystemCalls
#endif

/// What the demo knows about each key: every value sent, every score received, the injected anomalies.
/// Written by the publisher and reader threads, read by the view; all under `lock`.
final class DemoBoard: @unchecked Sendable {
    enum Phase: String { case backfill = "sending history", training = "training models", live = "live, injecting anomalies" }

    struct Key {
        let name: String
        var values: [Float] = []
        var scores: [Float] = []
        var injected: Set<Int> = []
        var status = "-"
        var version: Int?
        var lastScore: Float = .nan
        var lastIndex = -1
        var counts: [String: Int] = [:]
        /// Outputs received for this key, scored outputs whose score was not a finite number, and alarms
        /// (`metadata.is_anomaly`), by point index.
        var outputs = 0
        var nonFinite = 0
        /// Scored outputs for a timestamp the publisher never sent for this key.
        var unknown = 0
        var alarms: Set<Int> = []
    }

    let lock = NSCondition()
    var keys: [Key]
    let index: [String: Int]
    let backfill: Int
    let window: Int
    var phase = Phase.backfill
    let t0: Int64 = 1_700_000_000_000
    var outputs = 0

    init(keys: [String], backfill: Int, window: Int) {
        self.keys = keys.map { Key(name: $0) }
        index = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
        (self.backfill, self.window) = (backfill, window)
    }

    func timestamp(_ i: Int) -> Int64 { t0 + Int64(i) * 60_000 }

    func sent(_ k: Int, value: Float, injected: Bool) {
        lock.lock(); defer { lock.unlock() }
        keys[k].values.append(value)
        keys[k].scores.append(.nan)
        if injected { keys[k].injected.insert(keys[k].values.count - 1) }
    }

    func setPhase(_ p: Phase) { lock.lock(); phase = p; lock.unlock() }
    var currentPhase: Phase { lock.lock(); defer { lock.unlock() }; return phase }

    /// True once every key has been scored by a model.
    var allScored: Bool { lock.lock(); defer { lock.unlock() }; return keys.allSatisfy { $0.version != nil } }

    func received(_ body: [UInt8]) {
        guard case .object(let o)? = try? JSONValue.parse(String(decoding: body, as: UTF8.self)),
              let name = o["composite_keys"]?.arrayValue?.first?.stringValue, let k = index[name],
              let ts = o["timestamp"]?.intValue, let meta = o["metadata"]?.objectValue else { return }
        let status = meta["status"]?.stringValue ?? "?"
        let i = Int((ts - t0) / 60_000)
        lock.lock(); defer { lock.unlock() }
        outputs += 1
        keys[k].outputs += 1
        lock.broadcast()
        keys[k].counts[status, default: 0] += 1
        keys[k].status = status
        if let v = meta["model_version"]?.intValue { keys[k].version = Int(v) }
        if meta["is_anomaly"]?.boolValue == true { keys[k].alarms.insert(i) }
        if status == "scored" {
            if let s = o["unified_anomaly"]?.doubleValue, s.isFinite {
                // (Every point is on the board before it is sent. It was recorded after the send, and a score that
                // came back first was lost from the board and counted here as non-finite: 25 in a 10-minute run.)
                if i >= 0, i < keys[k].scores.count { keys[k].scores[i] = Float(s) } else { keys[k].unknown += 1 }
                keys[k].lastScore = Float(s)
            } else {
                keys[k].nonFinite += 1
            }
        }
        keys[k].lastIndex = max(keys[k].lastIndex, i)
    }

    var received: Int { lock.lock(); defer { lock.unlock() }; return outputs }

    /// Waits until another output arrives or `timeout` seconds pass.
    func waitForOutputs(timeout: Double) {
        lock.lock()
        _ = lock.wait(until: Date(timeIntervalSinceNow: timeout))
        lock.unlock()
    }

    // MARK: views

    static let bars = Array("▁▂▃▄▅▆▇█")

    func table(header: String, elapsed: Double, limit: Double?, port: Int?) -> String {
        lock.lock(); defer { lock.unlock() }
        let red = "\u{1B}[31m", bold = "\u{1B}[1m", dim = "\u{1B}[2m", reset = "\u{1B}[0m", green = "\u{1B}[32m", yellow = "\u{1B}[33m"
        var s = "\u{1B}[H\u{1B}[2J\(bold)\(header)\(reset)\n"
        let time = limit.map { "\(Int(elapsed)) s / \(Int($0)) s" } ?? "\(Int(elapsed)) s (Ctrl-C stops)"
        s += "phase: \(phase.rawValue)   ·   \(time)   ·   outputs \(outputs)"
        if let port { s += "   ·   metrics http://127.0.0.1:\(port)/metrics" }
        s += "\n\n"
        s += "\(dim)KEY        STATUS            MODEL   VALUE      SCORE   LAST 60 POINTS (score; red = injected anomaly)              INJECTED  FLAGGED\(reset)\n"
        for k in keys {
            let statusColor = k.status == "scored" ? green : (k.status == "-" ? dim : yellow)
            let value = k.values.last.map { String(format: "%9.2f", $0) } ?? "        -"
            let score = k.lastScore.isFinite ? String(format: "%6.2f", k.lastScore) : "     -"
            let scoreText = k.alarms.contains(k.lastIndex) ? "\(red)\(score)\(reset)" : score
            var spark = ""
            let end = k.lastIndex
            for i in max(0, end - 59)...max(0, end) where end >= 0 {
                let v = i < k.scores.count ? k.scores[i] : .nan
                let ch: Character = v.isFinite ? Self.bars[min(7, max(0, Int(v / 10 * 8)))] : "·"
                spark += k.injected.contains(i) ? "\(red)\(ch)\(reset)" : (k.alarms.contains(i) ? "\(yellow)\(ch)\(reset)" : String(ch))
            }
            let flagged = k.injected.filter { k.alarms.contains($0) }.count
            s += pad(k.name, 10) + " " + statusColor + pad(k.status, 17) + reset + " " + pad(k.version.map { "v\($0)" } ?? "-", 7)
                + " " + value + "  " + scoreText + "   " + spark
                + String(repeating: " ", count: max(0, 60 - min(60, end + 1))) + "  " + pad(String(k.injected.count), 9) + " " + String(flagged) + "\n"
        }
        return s
    }

    func plainLine(elapsed: Double) -> String {
        lock.lock(); defer { lock.unlock() }
        let parts = keys.map { k in
            "\(k.name)=\(k.status)/\(k.version.map { "v\($0)" } ?? "-")/\(k.lastScore.isFinite ? String(format: "%.2f", k.lastScore) : "-")"
        }
        return "demo t=\(Int(elapsed))s phase=\"\(phase.rawValue)\" outputs=\(outputs) " + parts.joined(separator: " ") + "\n"
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

    struct Summary {
        var text: String
    }

    /// Per key and in total (the totals are the sums of the key lines): points sent, outputs by status, scored
    /// outputs without a finite score, injected points, how many of them were scored and alarmed, and the mean
    /// score of injected points against points whose window holds no injected point.
    func summary(sent: Int) -> Summary {
        lock.lock(); defer { lock.unlock() }
        var injectedScores: [Float] = [], normalScores: [Float] = []
        var lines: [String] = []
        var statusTotals: [String: Int] = [:]
        var (sentTotal, outputTotal, nonFiniteTotal, injectedTotal, injectedAlarmed, alarmTotal) = (0, 0, 0, 0, 0, 0)
        var unknownTotal = 0
        for k in keys {
            var inj: [Float] = [], norm: [Float] = []
            for (i, s) in k.scores.enumerated() where s.isFinite {
                if k.injected.contains(i) { inj.append(s) } else if !((i - window + 1)...i).contains(where: { k.injected.contains($0) }) { norm.append(s) }
            }
            injectedScores += inj
            normalScores += norm
            for (st, n) in k.counts { statusTotals[st, default: 0] += n }
            let alarmedInjected = k.injected.filter { k.alarms.contains($0) }.count
            (sentTotal, outputTotal, nonFiniteTotal) = (sentTotal + k.values.count, outputTotal + k.outputs, nonFiniteTotal + k.nonFinite)
            unknownTotal += k.unknown
            (injectedTotal, injectedAlarmed, alarmTotal) = (injectedTotal + k.injected.count, injectedAlarmed + alarmedInjected, alarmTotal + k.alarms.count)
            let statuses = k.counts.keys.sorted().map { "\($0)=\(k.counts[$0]!)" }.joined(separator: " ")
            lines.append("  \(k.name): sent=\(k.values.count) outputs=\(k.outputs) \(statuses) non_finite_scores=\(k.nonFinite) "
                         + "model=\(k.version.map { "v\($0)" } ?? "none") injected=\(k.injected.count) injected_scored=\(inj.count) "
                         + "injected_alarmed=\(alarmedInjected) alarms=\(k.alarms.count) injected_mean_score=\(fmt(mean(inj))) "
                         + "normal_mean_score=\(fmt(mean(norm))) normal_max=\(fmt(norm.max() ?? .nan))")
        }
        let p99 = percentile(normalScores, 0.99)
        let above = injectedScores.filter { $0 > p99 }.count
        var text = "\ndemo summary: points_sent=\(sentTotal) outputs=\(outputTotal)"
        for st in statusTotals.keys.sorted() { text += " \(st)=\(statusTotals[st]!)" }
        text += " non_finite_scores=\(nonFiniteTotal) unknown_points=\(unknownTotal) injected=\(injectedTotal) injected_scored=\(injectedScores.count)"
        text += " injected_alarmed=\(injectedAlarmed) alarms=\(alarmTotal)"
        text += " injected_mean_score=\(fmt(mean(injectedScores))) normal_mean_score=\(fmt(mean(normalScores)))"
        text += " normal_p99_score=\(fmt(p99)) injected_above_normal_p99=\(injectedScores.isEmpty ? 0 : 100 * above / injectedScores.count)%\n"
        text += lines.joined(separator: "\n") + "\n"
        if sentTotal != sent { text += "  (the publisher counted \(sent) points sent)\n" }
        if injectedScores.isEmpty {
            text += "  (no anomaly was scored: models were not ready before the end — run longer, e.g. --duration 30s)\n"
        }
        return Summary(text: text)
    }

    private func mean(_ x: [Float]) -> Float { x.isEmpty ? .nan : x.reduce(0, +) / Float(x.count) }
    private func percentile(_ x: [Float], _ p: Double) -> Float {
        guard !x.isEmpty else { return .nan }
        let s = x.sorted()
        return s[min(s.count - 1, Int(Double(s.count) * p))]
    }
    private func fmt(_ v: Float) -> String { v.isFinite ? String(format: "%.2f", v) : "-" }

    /// One chart per key: the newest 600 points with their scores and the injected anomalies.
    func chart() -> Canvas {
        lock.lock(); defer { lock.unlock() }
        let parts: [Canvas] = keys.map { k in
            let from = max(0, k.values.count - 600)
            let marked = Set(k.injected.filter { $0 >= from }.map { $0 - from })
            var c = SeriesChart(title: "\(k.name)  (\(k.values.count - from) newest points, model \(k.version.map { "v\($0)" } ?? "none"))",
                                values: Array(k.values[from...]), scores: Array(k.scores[from...]), marked: marked)
            c.alarms = Set(k.alarms.filter { $0 >= from }.map { $0 - from })
            c.height = 340
            return c.render()
        }
        return Canvas.stack(parts)
    }
}

/// Sends the synthetic stream: history first (fast, in arrays), then live points at `rate` per key per
/// second; once every key is scored by a model, blocks of 4 anomalous points every ~45 points per key.
final class DemoPublisher: @unchecked Sendable {
    let endpoint: String
    let names: [String]
    let rate: Double
    let board: DemoBoard
    let stopFlag: StopFlag
    private let finished = DispatchSemaphore(value: 0)
    private var total = 0

    init(endpoint: String, keys: [String], rate: Double, board: DemoBoard, stop: StopFlag) {
        (self.endpoint, self.names, self.rate, self.board, self.stopFlag) = (endpoint, keys, rate, board, stop)
    }

    private let localStop = StopFlag()
    func stop() { localStop.set() }
    var stopping: Bool { localStop.isSet || stopFlag.isSet }

    func start() {
        let t = ThreadName.thread("aeflow-demo-publisher") { [self] in
            defer { finished.signal() }
            do { try run() } catch { FileHandleStandardError.write("aeflow demo: publisher: \(error)\n") }
        }
        t.start()
    }

    /// Waits for the publisher to end; returns the points sent.
    func join() -> Int {
        finished.wait()
        return total
    }

    func run() throws {
        let ctx = try ZMQContext()
        defer { ctx.shutdown() }
        let push = try ZMQSocket(ctx, .push)
        defer { push.close() }
        try push.setSendHighWaterMark(0)
        try push.setLinger(10_000)
        try push.connect(endpoint)
        let backfill = board.backfill
        let length = backfill + 200_000
        var series: [[Float]] = []
        for (k, _) in names.enumerated() {
            var g = SyntheticSeriesGenerator(length: length, numSeries: 1)
            g.seed = 100 + UInt64(k)
            g.primaryPeriod = 240
            g.secondaryPeriod = nil
            g.seasonalProbability = 1
            g.noiseRange = 1...3
            g.amplitudeRange = 20...40
            g.baselineRange = 50...300
            series.append(g.generate().values.scalars)
        }
        func body(_ k: Int, _ i: Int, _ v: Float) -> String {
            "{\"key\":\"\(names[k])\",\"timestamp\":\(board.timestamp(i)),\"metrics\":{\"value\":\(v)}}"
        }
        // History: arrays of 300 points.
        for (k, s) in series.enumerated() {
            for start in stride(from: 0, to: backfill, by: 300) where !stopping {
                let end = min(start + 300, backfill)
                // On the board before it goes out: the daemon may answer before the next line runs.
                for i in start..<end { board.sent(k, value: s[i], injected: false) }
                try push.send("[" + (start..<end).map { body(k, $0, s[$0]) }.joined(separator: ",") + "]")
                total += end - start
            }
        }
        board.setPhase(.training)
        var i = backfill
        var liveStart: Int?
        var pending: [[Float]] = Array(repeating: [], count: names.count)   // anomalous values still to send per key
        let tick = 1 / rate
        var next = MonotonicClock.now()
        while !stopping && i < length {
            if liveStart == nil && board.allScored {
                liveStart = i
                board.setPhase(.live)
            }
            for k in names.indices {
                var v = series[k][i]
                var injected = false
                if let ls = liveStart, (i - ls) % 45 == 10 + (k * 7) % 30 {
                    pending[k] = Self.anomaly(series: series[k], backfill: backfill, at: i, count: 4, seed: UInt64(i * 31 + k))
                }
                if !pending[k].isEmpty {
                    v = pending[k].removeFirst()
                    injected = true
                }
                board.sent(k, value: v, injected: injected)
                try push.send(body(k, i, v))
                total += 1
            }
            i += 1
            next += tick
            let ahead = next - MonotonicClock.now()
            if ahead > 0 {
                var ts = timespec(tv_sec: Int(ahead), tv_nsec: Int((ahead - Double(Int(ahead))) * 1e9))
                nanosleep(&ts, nil)
            }
        }
    }

    /// `count` anomalous values for the rows from `at`, from Training's anomaly generator (global anomalies,
    /// shifted ~4 standard deviations of the key's history).
    static func anomaly(series: [Float], backfill: Int, at: Int, count: Int, seed: UInt64) -> [Float] {
        let reference = Tensor(shape: [backfill, 1], scalars: Array(series[0..<backfill]))
        let block = Tensor(shape: [count, 1], scalars: Array(series[at..<(at + count)]))
        let g = AnomalyGenerator(reference: reference, kind: .global, ratio: 0.99, mu: 4, sigma: 0.5, seed: seed)
        return g.inject(into: block, columns: [0], start: 0).data.scalars
    }
}

/// Reads the daemon's scores into the board.
final class DemoReader: @unchecked Sendable {
    let endpoint: String
    let board: DemoBoard
    private let stopFlag = StopFlag()
    private let finished = DispatchSemaphore(value: 0)

    init(endpoint: String, board: DemoBoard) { (self.endpoint, self.board) = (endpoint, board) }

    /// Binds the scores endpoint (the daemon connects to it) and returns once it is bound.
    func start() {
        let bound = DispatchSemaphore(value: 0)
        let t = ThreadName.thread("aeflow-demo-reader") { [self] in
            defer { finished.signal() }
            do {
                let ctx = try ZMQContext()
                defer { ctx.shutdown() }
                let pull = try ZMQSocket(ctx, .pull)
                defer { pull.close() }
                try pull.setReceiveHighWaterMark(0)
                try pull.setReceiveTimeout(100)
                if endpoint.hasPrefix("ipc://") { Files.makeParentDirectory(String(endpoint.dropFirst(6))) }
                do { try pull.bind(endpoint) } catch { bound.signal(); throw error }
                bound.signal()
                while !stopFlag.isSet {
                    guard let frames = try? pull.receive(), let body = frames.last else { continue }
                    board.received(body)
                }
            } catch {
                FileHandleStandardError.write("aeflow demo: reader: \(error)\n")
            }
        }
        t.start()
        bound.wait()
    }

    /// Waits until `count` outputs arrived (every point sent yields one) or `timeout` seconds pass.
    func waitFor(_ count: Int, timeout: Double) {
        let deadline = MonotonicClock.now() + timeout
        while board.received < count && MonotonicClock.now() < deadline { board.waitForOutputs(timeout: 0.1) }
    }

    func stop() {
        stopFlag.set()
        finished.wait()
    }
}
