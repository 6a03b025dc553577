import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
import SystemCalls
#endif

/// Shows training progress: a redrawn progress bar when standard error is a terminal, otherwise one
/// structured log line at epoch 1, every `logEveryNEpochs` epochs and at the end (numalogic's ConsoleLogger
/// cadence).
public final class TrainingProgress: TrainerCallback {
    public enum Style: Sendable { case automatic, bar, lines }

    private let logger: Logger
    private let useBar: Bool
    private let every: Int
    private var model = ""
    private let label: String

    /// `label` names the run in output (a key, say).
    public init(style: Style = .automatic, logEveryNEpochs: Int = 5, label: String = "",
                logger: Logger = Logger(label: "aeflow.training")) {
        self.logger = logger
        self.every = max(1, logEveryNEpochs)
        self.label = label
        switch style {
        case .automatic: useBar = Files.isTerminal(STDERR_FILENO)
        case .bar: useBar = true
        case .lines: useBar = false
        }
    }

    public func trainingStarted(model: String, windows: Int, maxEpochs: Int) {
        self.model = model
        if !useBar {
            logger.info("training started", metadata: ["model": "\(model)", "windows": "\(windows)", "max_epochs": "\(maxEpochs)",
                                                        "run": "\(label)"])
        }
    }

    public func epochEnded(_ m: EpochMetrics, maxEpochs: Int) {
        if useBar {
            let width = 30
            let filled = width * m.epoch / max(maxEpochs, 1)
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let val = m.valLoss.map { String(format4($0)) }.map { " val_loss \($0)" } ?? ""
            let line = "\r\(label.isEmpty ? model : label) epoch \(m.epoch)/\(maxEpochs) \(bar) train_loss \(format4(m.trainLoss))\(val)"
            Files.writeStandardError(line)
        } else if m.epoch == 1 || m.epoch % every == 0 || m.epoch == maxEpochs {
            var meta: Logger.Metadata = ["model": "\(model)", "epoch": "\(m.epoch)", "train_loss": "\(format4(m.trainLoss))",
                                         "seconds": "\(format4(Float(m.seconds)))"]
            if let v = m.valLoss { meta["val_loss"] = "\(format4(v))" }
            if !label.isEmpty { meta["run"] = "\(label)" }
            logger.info("epoch ended", metadata: meta)
        }
    }

    public func trainingEnded(_ s: TrainingSummary) {
        if useBar { Files.writeStandardError("\n") }
        logger.info("training finished", metadata: [
            "model": "\(model)", "epochs": "\(s.epochs.count)", "train_loss": "\(format4(s.finalTrainLoss))",
            "val_loss": "\(s.lastValLoss.map(format4) ?? "-")", "stopped_early": "\(s.stoppedEarly)",
            "seconds": "\(format4(Float(s.seconds)))",
        ])
    }
}

/// Four decimal places, like numalogic's ConsoleLogger.
func format4(_ x: Float) -> String {
    guard x.isFinite else { return "\(x)" }
    let scaled = (Double(x) * 10_000).rounded() / 10_000
    var s = String(scaled)
    if let dot = s.firstIndex(of: "."), s.distance(from: dot, to: s.endIndex) > 5 { s = String(s[..<s.index(dot, offsetBy: 5)]) }
    return s
}


/// Progress of long work (backtests, evaluations) as one line: redrawn in place (`\r`) when standard error is a
/// terminal, otherwise a structured log line at most every `interval` seconds and at the end.
public final class ProgressLine: Sendable {
    private struct State { var lastLog = -Double.infinity; var lastLength = 0 }
    private let label: String
    private let logger: Logger
    private let onTerminal: Bool
    private let interval: Double
    private let state = Mutex(State())

    public init(label: String, interval: Double = 5, logger: Logger = Logger(label: "aeflow.progress"), terminal: Bool? = nil) {
        (self.label, self.interval, self.logger) = (label, interval, logger)
        onTerminal = terminal ?? Files.isTerminal(STDERR_FILENO)
    }

    /// Reports `done` of `total` with extra fields (shown in order).
    public func update(done: Int, total: Int, _ fields: KeyValuePairs<String, String> = [:]) {
        state.withLock { s in
            let percent = total > 0 ? 100 * done / total : 100
            let finished = done >= total
            if onTerminal {
                var line = "\(label) \(done)/\(total) (\(percent)%)"
                for (k, v) in fields { line += " \(k) \(v)" }
                let pad = max(0, s.lastLength - line.count)
                s.lastLength = line.count
                Files.writeStandardError("\r" + line + String(repeating: " ", count: pad) + (finished ? "\n" : ""))
            } else {
                let now = MonotonicClock.now()
                guard finished || now - s.lastLog >= interval else { return }
                s.lastLog = now
                var meta: Logger.Metadata = ["done": "\(done)", "total": "\(total)", "percent": "\(percent)"]
                for (k, v) in fields { meta[k] = "\(v)" }
                logger.info("progress", metadata: meta.merging(["task": "\(label)"]) { a, _ in a })
            }
        }
    }
}
