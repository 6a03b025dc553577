// Daemon load generator: starts `aeflow serve` (release build) with a pipeline-wide VanillaAE(seq_len 12,
// 3 metrics) over tcp loopback, offers points at fixed rates and measures what comes back.
//
//   swift build -c release && .build/release/LoadGen [--keys 1,10000,1000000] [--rates 50000,100000,150000,200000,0]
//                                                    [--seconds 5] [--warmup-seconds 1] [--probe-seconds 5]
//                                                    [--points-per-message 1] [--quick] [--with-retrain] [--curve]
//                                                    [--dump-latencies PREFIX] [--scope pipeline|key] [--max-models N]
//                                                    [--workers N] [--remote-write URL] [--remote-write-batch N]
//                                                    [--engine] [--engine-batch N] [--forwarder [--forwarder-work-us X]]
//
// --scope key gives every key its own model (numalogic's default and most users' way): `model_scope: key`, and
// the trained checkpoint published once per key before the daemon starts (keys under 1M only), so a batch of
// points is scored by as many models as it has keys. --scope pipeline (the default) uses one model for all.
// --max-models sets `store.max_models` (default: the key count, at least 10,000).
//
// Before anything starts, --probe-seconds (default 5) of 50 µs sleeps measure the idle machine's own
// scheduling gaps (a thread that asked to sleep 50 µs and woke more than 1 ms later): a floor under any
// latency tail measured here. Prints {"bench": "machine_gaps", ...}.
//
// Each row first offers --warmup-seconds of points at the row's rate whose outputs are received but not
// measured (first-use growth of buffers and caches on both sides), then --seconds measured.
//
// --curve puts CURVE (with the ZAP allow-list) on the daemon's sockets and the generator's.
// --remote-write URL adds `remote_write: {url: URL}` (the defaults otherwise): every score is also written to a
// metrics store; each row then reports the samples the store accepted and dropped, and the samples per second
// from the row's start until the writer's queue is empty again.
// --with-retrain runs `aeflow serve --with-retrain`: every accepted point also goes to the retrain stage's
// SQLite history; each run then reports the rows the history wrote and dropped (from /metrics).
//
// --engine [--engine-batch N] measures the scoring worker's own work without the daemon: in this process, one
// ScoringEngine (the daemon's worker, one shard) over the same store and configuration, fed pre-decoded batches of
// N points (default 256) with keys in the generator's round-robin order; it reports the engine's CPU time per point
// (ScoringEngine.process: windows, model lookup, inference, scores, output encoding) and the decode's, separately.
// On two shared cores the daemon rows move by ±10 % from run to run; this one is steadier, for comparing changes.
//
// --forwarder runs the same rows against bench/Forwarder (built beside LoadGen) in place of the daemon: a plain
// ZeroMQ forwarder (libzmq's zmq_proxy) that returns each message unchanged, with no decoding, scoring or encoding.
// Its rows ("bench": "forwarder"; no statuses, as nothing is scored) are the machine's ceiling for a stage that
// reads and writes one message per point beside this generator. Pipeline scope only, without the options that
// need the daemon (--with-retrain, --curve, --remote-write). With --forwarder-work-us X the forwarder also spends X µs
// of CPU on each message (a calibrated arithmetic loop on its one thread): a stage of known cost, whose tail and
// throughput on this machine set the daemon's beside its CPU a point (`bench/run.py tail`).
//
// Rate 0 means "as fast as possible". Each point's uuid carries its send time; latency is receive time
// minus send time (the daemon echoes the uuid). Prints one JSON line per run, including the daemon's
// resident memory (VmRSS) at the end of the run and its peak (VmHWM), its CPU time per point over the measured part and
// its threads' context switches (voluntary and involuntary) per point over the whole row, warm-up included; and per
// thread, by the daemon's thread names, over the whole row (`daemon_threads`): CPU µs a point, cores, wake-ups
// (voluntary switches) and preemptions (involuntary) a second.
//
// --dump-latencies PREFIX writes PREFIX-<keys>-<rate>.txt per row: a first line `# measure_start_monotonic <s>` (the
// measured part's start on CLOCK_MONOTONIC, to set the points beside e.g. `perf record -k CLOCK_MONOTONIC`), then one
// line per point: its send time from that start and its latency, in seconds.
import Autoencoders
import Foundation
import Logging
import Scoring
import Stage
import SystemCalls
import TensorCore
import Training
import ZMQ

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

var keySets = [1, 10_000, 1_000_000], rates = [50_000, 100_000, 150_000, 200_000, 0], seconds = 5.0, warmupSeconds = 1.0
var perMessage = 1, withRetrain = false, curve = false, dumpPrefix: String?, probeSeconds = 5.0
var perKeyModels = false, maxModels: Int?, workers = 0, remoteWrite: String?, remoteWriteBatch = 2_000
var engineOnly = false, engineBatch = 256, forwarder = false, forwarderWork = 0.0
/// Ends the program with a usage line (exit status 2): a bad command line is the caller's mistake, not a crash.
@MainActor func usage(_ problem: String) -> Never {
    FileHandle.standardError.write(Data(("LoadGen: \(problem)\nusage: LoadGen [--keys N,...] [--rates N,...] [--seconds S] "
        + "[--warmup-seconds S] [--probe-seconds S] [--points-per-message N] [--quick] [--with-retrain] [--curve] "
        + "[--dump-latencies PREFIX] [--scope pipeline|key] [--max-models N] [--workers N] [--remote-write URL] "
        + "[--remote-write-batch N] [--engine] [--engine-batch N] [--forwarder [--forwarder-work-us X]]\n").utf8))
    exit(2)
}
var args = CommandLine.arguments.dropFirst().makeIterator()
/// The next argument as a value of `T` for option `name`.
@MainActor func value<T: LosslessStringConvertible>(_ name: String) -> T {
    guard let text = args.next() else { usage("\(name) needs a value") }
    guard let v = T(text) else { usage("\(name): cannot read \"\(text)\"") }
    return v
}
@MainActor func list(_ name: String) -> [Int] {
    let text: String = value(name)
    let items = text.split(separator: ",").map { Int($0) }
    guard !items.isEmpty, items.allSatisfy({ $0 != nil }) else { usage("\(name) takes comma-separated whole numbers, got \"\(text)\"") }
    return items.map { $0! }
}
while let a = args.next() {
    switch a {
    case "--keys": keySets = list(a)
    case "--rates": rates = list(a)
    case "--seconds": seconds = value(a)
    case "--warmup-seconds": warmupSeconds = value(a)
    case "--probe-seconds": probeSeconds = value(a)
    case "--points-per-message": perMessage = value(a)
    case "--quick": (keySets, rates, seconds) = ([1, 10_000], [50_000, 0], 2)
    case "--with-retrain": withRetrain = true
    case "--curve": curve = true
    case "--dump-latencies": dumpPrefix = value(a) as String   // PREFIX-<keys>-<rate>.txt (see the header)
    case "--scope":
        switch args.next() {
        case "key": perKeyModels = true
        case "pipeline": perKeyModels = false
        case let v: usage("--scope takes pipeline or key, got \(v ?? "nothing")")
        }
    case "--max-models": maxModels = value(a) as Int
    case "--workers": workers = value(a)   // windows.workers (0: one per core, the default)
    case "--remote-write": remoteWrite = value(a) as String   // scores also written back to this remote-write URL
    case "--remote-write-batch": remoteWriteBatch = value(a)   // remote_write.batch_size (default 2,000)
    case "--engine": engineOnly = true
    case "--engine-batch": engineBatch = value(a)
    case "--forwarder": forwarder = true
    case "--forwarder-work-us": forwarderWork = value(a)   // with --forwarder: µs of CPU the forwarder spends a message
    case "--help", "-h": usage("load generator for `aeflow serve` (see the header of bench/LoadGen/main.swift)")
    default: usage("unknown argument \(a)")
    }
}
if perMessage < 1 || engineBatch < 1 || seconds <= 0 || keySets.contains(where: { $0 < 1 }) || rates.contains(where: { $0 < 0 }) {
    usage("--points-per-message, --engine-batch, --seconds and --keys must be positive, --rates not negative")
}
if forwarderWork < 0 || (forwarderWork > 0 && !forwarder) { usage("--forwarder-work-us takes µs ≥ 0, with --forwarder") }
if forwarder && (perKeyModels || withRetrain || curve || remoteWrite != nil || engineOnly) {
    usage("--forwarder replaces the daemon: it takes neither --scope key, --with-retrain, --curve, --remote-write nor --engine")
}

if probeSeconds > 0 {
    var gaps: [Double] = [], gapEnds: [Double] = []
    let probeStart = now()
    var previous = probeStart
    while previous - probeStart < probeSeconds {
        var ts = timespec(tv_sec: 0, tv_nsec: 50_000)
        nanosleep(&ts, nil)
        let t = now()
        if t - previous > 0.001 { gaps.append(t - previous); gapEnds.append(t - probeStart) }
        previous = t
    }
    // When the gaps happened (seconds from the probe's start, the first 20): a period among them is the machine's.
    let offsets = gapEnds.prefix(20).map { String(format: "%.3f", $0) }.joined(separator: ", ")
    emit("{\"bench\": \"machine_gaps\", \"seconds\": \(probeSeconds), \"gaps_over_1ms\": \(gaps.count), "
         + "\"worst_gap_ms\": \((gaps.max() ?? 0) * 1e3), \"gap_time_ms\": \(gaps.reduce(0, +) * 1e3), \"gap_ends_s\": [\(offsets)]}")
}

let exe = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(forwarder ? "Forwarder" : "aeflow").path
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("aeflow-load-\(getpid())").path
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: dir) }

// One pipeline-wide model, trained on synthetic data.
var gen = SyntheticSeriesGenerator(length: 3000, numSeries: 3)
gen.primaryPeriod = 120
gen.secondaryPeriod = nil
let series = gen.generate()
var trainer = TrainerConf()
trainer.minTrainSize = 1000
trainer.maxEpochs = 10
let conf = NumalogicConf(model: ModelSpec(name: "VanillaAE", conf: JSONObject([("seq_len", .int(12)), ("n_features", .int(3))])), trainer: trainer)
let trained = try PipelineTrainer(conf: conf, metrics: ["a", "b", "c"], pipelineID: "load", key: []).train(series.values, now: 0)
let store = CheckpointStore(root: "\(dir)/models")
if perKeyModels {
    let publishStart = now()
    let most = keySets.filter { $0 < 1_000_000 }.max() ?? 0
    // Through the store for the first key; the rest written straight into the same layout (version 1 and
    // LATEST, no fsync): the store's durable publish costs milliseconds a file, an hour for 100k keys.
    for i in 0..<most {
        var c = trained.checkpoint
        c.key = ["k\(i)"]
        if i == 0 { try store.publish(c); continue }
        c.version = 1
        let keyDir = store.keyDirectory(pipeline: c.pipelineID, key: c.key)
        try FileManager.default.createDirectory(atPath: keyDir, withIntermediateDirectories: true)
        let name = CheckpointStore.fileName(version: 1)
        guard FileManager.default.createFile(atPath: "\(keyDir)/\(name)", contents: Data(c.encoded())),
              FileManager.default.createFile(atPath: "\(keyDir)/LATEST", contents: Data((name + "\n").utf8)) else {
            fatalError("cannot write \(keyDir)")
        }
    }
    emit("{\"bench\": \"publish\", \"models\": \(most), \"seconds\": \(now() - publishStart)}")
} else {
    try store.publish(trained.checkpoint)
}
let means = series.values.mean(alongAxes: [0]).scalars

// CURVE: a server identity for the daemon and an allowed client identity for the generator.
let serverKeys = try CurveKeyPair.generate(), clientKeys = try CurveKeyPair.generate()
if curve {
    try FileManager.default.createDirectory(atPath: "\(dir)/clients", withIntermediateDirectories: true)
    try "\(serverKeys.secretKey)\n".write(toFile: "\(dir)/server.key_secret", atomically: true, encoding: .utf8)
    try "\(clientKeys.publicKey)\n".write(toFile: "\(dir)/clients/loadgen.key", atomically: true, encoding: .utf8)
}
let keyScope = perKeyModels, modelLimit = maxModels, workerCount = workers
let writeBack = remoteWrite.map { "remote_write: {url: \"\($0)\", batch_size: \(remoteWriteBatch)}" } ?? ""
let security = curve ? "security: {curve: {secret_key_file: \"\(dir)/server.key_secret\", allowed_clients: [\"\(dir)/clients\"]}}" : ""

func daemonConfig(maxKeys: Int) -> String {
    """
    inputs: [{endpoint: "tcp://127.0.0.1:0", type: pull, bind: true}]
    outputs:
      scores: {endpoint: "tcp://127.0.0.1:0", type: push, bind: true}
      train_requests: {endpoint: "tcp://127.0.0.1:0", type: push, bind: true}
      history: null
    http: {port: 0}
    store: {path: "\(dir)/models", max_models: \(modelLimit ?? max(maxKeys, 10_000)), preload_timeout_s: 600}
    history: {path: "\(dir)/history.sqlite", max_rows_per_key: 1000}
    \(security)
    \(writeBack)
    windows: {max_keys: \(maxKeys), snapshot_path: null, workers: \(workerCount)}   # each daemon of a run starts with empty windows
    stream_confs:
      s:
        window_size: 12
        ml_pipelines:
          load:
            metrics: [a, b, c]
            model_scope: \(keyScope ? "key" : "pipeline")
            numalogic_conf:
              model: {name: VanillaAE, conf: {seq_len: 12, n_features: 3}}
    """
}

func runDaemon(maxKeys: Int, withRetrain: Bool, forwarderWork: Double) throws -> (LineReader, [String: String]) {
    let cfg = daemonConfig(maxKeys: maxKeys)
    try cfg.write(toFile: "\(dir)/cfg.yaml", atomically: true, encoding: .utf8)
    try? FileManager.default.removeItem(atPath: "\(dir)/history.sqlite")
    let r = try LineReader(exe, ["serve", "--config", "\(dir)/cfg.yaml"] + (withRetrain ? ["--with-retrain"] : [])
                                  + (forwarderWork > 0 ? ["--work-us", "\(forwarderWork)"] : []))
    // On a failure the daemon is stopped before LoadGen ends (it was left running, idle, after a failed row).
    // The daemon reports ready once its workers have read the store (one checkpoint per key: minutes for 100,000).
    guard let ready = r.waitFor("daemon ready", timeout: 300) else { r.stop(); fatalError("daemon did not start within 300 s") }
    var e: [String: String] = [:]
    for f in ready.split(separator: " ") {
        let kv = f.split(separator: "=", maxSplits: 1).map(String.init)
        if kv.count == 2 { e[kv[0]] = kv[1] }
    }
    // Reading one checkpoint per key takes a while for 100,000 keys (and on a busy machine for 10,000).
    guard r.waitFor("models preloaded", timeout: 300) != nil else { r.stop(); fatalError("models not preloaded within 300 s") }
    return (r, e)
}

/// Reads a child's stderr lines on a thread.
final class LineReader: @unchecked Sendable {
    let process = Process()
    private var lines: [String] = []
    private let cond = NSCondition()
    init(_ exe: String, _ args: [String]) throws {
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = args
        let p = Pipe()
        process.standardError = p
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let d = p.fileHandleForReading.availableData
                if d.isEmpty { break }
                pending.append(d)
                while let nl = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...nl)
                    cond.lock(); lines.append(line); cond.broadcast(); cond.unlock()
                }
            }
        }
    }
    func waitFor(_ text: String, timeout: Double = 60) -> String? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        cond.lock(); defer { cond.unlock() }
        while true {
            if let l = lines.first(where: { $0.contains(text) }) { return l }
            if !cond.wait(until: deadline) { return nil }
        }
    }
    func memory() -> (rss: Int, peak: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        return (Self.number(status, "VmRSS:") * 1024, Self.number(status, "VmHWM:") * 1024)
    }
    /// The number after `field` (say `VmRSS:`) in the text of a /proc status file; 0 when it is not there.
    static func number(_ status: String, _ field: String) -> Int {
        status.split(separator: "\n").first { $0.hasPrefix(field) }.map { Int($0.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]) ?? 0 } ?? 0
    }
    /// The daemon's CPU time so far (user + system, all threads), from /proc/PID/stat.
    func cpuSeconds() -> Double {
        (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)).flatMap(Self.cpuSeconds(stat:)) ?? .nan
    }
    /// User + system CPU seconds in the text of a /proc stat file (a process's or a thread's); nil if it does not parse.
    static func cpuSeconds(stat: String) -> Double? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return nil }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
    /// The daemon's threads so far, by kernel name (the daemon names its threads; threads of one name, such as the
    /// workers' model loaders, summed): CPU time (/proc/PID/task/TID/stat) and context switches, voluntary (the thread
    /// slept and was woken: on this machine a wake-up costs tens of µs of CPU) and involuntary (it was preempted).
    func threads() -> [String: ThreadCounters] {
        let dir = "/proc/\(process.processIdentifier)/task"
        var out: [String: ThreadCounters] = [:]
        for tid in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            guard let stat = try? String(contentsOfFile: "\(dir)/\(tid)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
            let name = String(stat[stat.index(after: open)..<close])
            let status = (try? String(contentsOfFile: "\(dir)/\(tid)/status", encoding: .utf8)) ?? ""
            var c = out[name] ?? ThreadCounters()
            c.cpu += Self.cpuSeconds(stat: stat) ?? 0
            c.voluntary += Self.number(status, "voluntary_ctxt_switches:")
            c.involuntary += Self.number(status, "nonvoluntary_ctxt_switches:")
            out[name] = c
        }
        return out
    }
    func stop() { kill(process.processIdentifier, SIGTERM); process.waitUntilExit() }
}

/// One thread's counters from /proc (or the sum over threads of one name).
struct ThreadCounters {
    var cpu = 0.0, voluntary = 0, involuntary = 0

    /// Context switches of every thread, voluntary and involuntary.
    static func switches(_ threads: [String: ThreadCounters]) -> Int { threads.values.reduce(0) { $0 + $1.voluntary + $1.involuntary } }

    /// `daemon_threads` of a row: each thread's CPU a point and wake-ups and preemptions a second between two
    /// readings, over `points` outputs and `seconds` (threads that came and went meanwhile count from zero); threads
    /// under 0.5 % of a core and 10 wake-ups a second left out.
    static func json(from start: [String: ThreadCounters], to end: [String: ThreadCounters], points: Int, seconds: Double) -> String {
        end.sorted { $0.key < $1.key }.compactMap { name, e in
            let s = start[name] ?? ThreadCounters()
            let cpu = e.cpu - s.cpu, woken = Double(e.voluntary - s.voluntary) / seconds, preempted = Double(e.involuntary - s.involuntary) / seconds
            guard cpu / seconds >= 0.005 || woken >= 10 else { return nil }
            let key = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(key)\": {\"cpu_us_per_point\": \(cpu / Double(max(1, points)) * 1e6), \"cores\": \(cpu / seconds), "
                + "\"wakeups_per_s\": \(woken), \"preemptions_per_s\": \(preempted)}"
        }.joined(separator: ", ")
    }
}

/// Hands a socket from one thread to another: only one thread uses it at a time (the main thread during
/// warm-up, then the receiver thread, joined before the next use).
final class SocketBox: @unchecked Sendable {
    let socket: ZMQSocket
    init(_ s: ZMQSocket) { socket = s }
}

/// A counter from the daemon's /metrics (curl), 0 when absent.
func metric(port: String, _ name: String) -> Double {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    p.arguments = ["-s", "http://127.0.0.1:\(port)/metrics"]
    let out = Pipe()
    p.standardOutput = out
    guard (try? p.run()) != nil else { return 0 }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last!) } ?? 0
}

func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// The metrics part of a point for each of the 120 phases, formatted once (the generator shares the two
/// cores with the daemon, so every cycle it spends is taken from what is measured).
let metricsByPhase: [String] = (0..<120).map { step in
    let phase = Double(step) / 120 * 2 * Double.pi
    return "\"metrics\":{\"a\":\(Double(means[0]) + 10 * sin(phase)),\"b\":\(Double(means[1]) + 10 * cos(phase)),\"c\":\(means[2])}}"
}

/// Timestamps start five years back and advance 10 s a step, so that no run reaches the daemon's
/// `windows.max_future_s` (a far-future point is rejected, not scored).
let firstTimestamp = (Int64(Date().timeIntervalSince1970) - 5 * 365 * 86_400) * 1000

func point(key: Int, step: Int, sent: Double) -> String {
    "{\"key\":\"k\(key)\",\"timestamp\":\(firstTimestamp + Int64(step) * 10_000),\"uuid\":\"\(Int64(sent * 1e9))\",\(metricsByPhase[phase(step)])"
}

/// A step's phase (of 120; the connection probe's steps are negative).
func phase(_ step: Int) -> Int { (step % 120 + 120) % 120 }

/// `point(key:step:sent:)`'s bytes appended to `out`, the sender's reused buffer (`sentNs`: `Int64(sent * 1e9)`):
/// no String per point — the generator shares the two cores with the daemon, so its cycles are taken from what is
/// measured. Checked equal to `point` at start.
let metricsBytesByPhase: [[UInt8]] = metricsByPhase.map { Array($0.utf8) }
let keyOpen = Array("{\"key\":\"k".utf8), timestampOpen = Array("\",\"timestamp\":".utf8)
let uuidOpen = Array(",\"uuid\":\"".utf8), uuidClose = Array("\",".utf8)
func appendPoint(key: Int, step: Int, sentNs: Int64, to out: inout [UInt8]) {
    out.append(contentsOf: keyOpen)
    OutputEncoder.appendInt(Int64(key), to: &out)
    out.append(contentsOf: timestampOpen)
    OutputEncoder.appendInt(firstTimestamp + Int64(step) * 10_000, to: &out)
    out.append(contentsOf: uuidOpen)
    OutputEncoder.appendInt(sentNs, to: &out)
    out.append(contentsOf: uuidClose)
    out.append(contentsOf: metricsBytesByPhase[phase(step)])
}
do {
    var probe: [UInt8] = []
    for (key, step, sent) in [(0, 0, 0.0), (7, 13, 1_234.5), (99_999, 1_000_000, 1.75e9)] {
        probe.removeAll(keepingCapacity: true)
        appendPoint(key: key, step: step, sentNs: Int64(sent * 1e9), to: &probe)
        precondition(probe == Array(point(key: key, step: step, sent: sent).utf8), "appendPoint differs from point")
    }
}

/// The bytes after the first `"name":"` in `body`, up to the closing quote: candidates found by memchr on the name's
/// first letter (rarer in a body than quotes) and checked in place (no String; neither a byte-by-byte scan nor a
/// call per quote, which were in turn most of the receiving thread).
func field(_ body: UnsafeRawBufferPointer, _ pattern: [UInt8]) -> UnsafeRawBufferPointer? {
    guard let base = body.baseAddress, body.count >= pattern.count, pattern.count >= 2 else { return nil }
    return pattern.withUnsafeBufferPointer { p -> UnsafeRawBufferPointer? in
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var at = 1   // where the letter may be found: one past a candidate start
        let last = body.count - pattern.count + 1
        while at <= last, let hit = memchr(base + at, Int32(p[1]), last - at + 1) {
            at = base.distance(to: UnsafeRawPointer(hit))
            let from = at - 1
            var k = 0
            while k < p.count && bytes[from + k] == p[k] { k += 1 }
            if k == p.count {
                let start = from + p.count
                let end = memchr(base + start, Int32(UInt8(ascii: "\"")), body.count - start).map { base.distance(to: UnsafeRawPointer($0)) } ?? body.count
                return UnsafeRawBufferPointer(rebasing: body[start..<end])
            }
            at += 1
        }
        return nil
    }
}

/// Whether `a` holds exactly the bytes of `b` (a plain loop: the generic `elementsEqual` across the two types
/// looked up type metadata per call).
func same(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    for i in 0..<a.count where a[i] != b[i] { return false }
    return true
}
let uuidPattern = Array("\"uuid\":\"".utf8), statusPattern = Array("\"status\":\"".utf8)
// field: a false start on the name's letter before the real field, the field first and last, a name not there.
Array(#"{"uuid":"12","su":"s","stat":"x","status":"scored"}"#.utf8).withUnsafeBytes { b in
    func text(_ pattern: [UInt8]) -> String? { field(b, pattern).map { String(decoding: $0, as: UTF8.self) } }
    precondition(text(uuidPattern) == "12" && text(statusPattern) == "scored" && text(Array("\"x\":\"".utf8)) == nil, "field misreads")
}

/// CPU time (user + system) of this process (the generator: sender and receiver), in seconds.
func processCPU() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6
}

/// The --engine rows: one in-process ScoringEngine per key set, timed per batch (see the header).
@MainActor func engineRows() throws {
    for keys in keySets where keys < 1_000_000 {
        let text = daemonConfig(maxKeys: keys)
        let config = try AEFlowConfig.read(try YAMLDocument.parse(text, source: "loadgen.yaml"), source: "loadgen.yaml")
        let metrics = ScoringMetrics(), router = PointRouter(config: config)
        var logger = Logger(label: "loadgen")
        logger.logLevel = .warning
        let registry = ModelRegistry(config: config, metrics: metrics, logger: logger)
        registry.start()
        defer { registry.stop() }
        guard registry.waitForPreload(timeout: 600) else { fatalError("models not preloaded within 600 s") }
        let engine = ScoringEngine(config: config, router: router, models: registry, metrics: metrics, logger: logger, seed: 1)
        let ingest = Ingest(config: config, router: router)
        // Every key's window filled first (12 points each), then at least a million points or 50 per key measured.
        let warm = keys * 12, measured = max(1_000_000, keys * 50)
        var decodeSeconds = 0.0, processSeconds = 0.0, statuses: [String: Int] = [:], i = 0
        while i < warm + measured {
            let n = min(engineBatch, (i < warm ? warm : warm + measured) - i)   // no batch straddles the warm-up's end
            let bodies = (i..<(i + n)).map { Array(point(key: $0 % keys, step: $0 / keys, sent: Double($0)).utf8) }
            let t0 = ThreadClock.cpuSeconds()
            var batch: [RoutedPoint] = []
            batch.reserveCapacity(n)
            for (j, body) in bodies.enumerated() {
                guard case .points(let ps, let refused) = ingest(body, arrival: now(), source: [body]), refused.isEmpty else {
                    fatalError("point \(i + j) not accepted")
                }
                batch.append(contentsOf: ps)
            }
            let t1 = ThreadClock.cpuSeconds()
            let out = engine.process(batch, now: now())
            let t2 = ThreadClock.cpuSeconds()
            if i >= warm {
                (decodeSeconds, processSeconds) = (decodeSeconds + t1 - t0, processSeconds + t2 - t1)
                for e in out {
                    switch e {
                    case .score(_, _, _, let status, _): statuses[status.rawValue, default: 0] += 1
                    case .rejected(let r, _, _): statuses["rejected \(r.reason)", default: 0] += 1
                    case .trainRequest: statuses["train_request", default: 0] += 1
                    }
                }
            }
            i += n
        }
        let counts = statuses.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        emit("{\"bench\": \"engine\", \"keys\": \(keys), \"scope\": \"\(perKeyModels ? "key" : "pipeline")\", \"batch\": \(engineBatch), "
             + "\"points\": \(measured), \"process_ns_per_point\": \(processSeconds / Double(measured) * 1e9), "
             + "\"decode_ns_per_point\": \(decodeSeconds / Double(measured) * 1e9), \"statuses\": {\(counts)}}")
    }
}

if engineOnly {
    try engineRows()
    exit(0)
}

for keys in keySets {
    let (daemon, e) = try runDaemon(maxKeys: keys >= 1_000_000 ? 100_000 : max(keys, 1), withRetrain: withRetrain, forwarderWork: forwarderWork)
    let ctx = try ZMQContext()
    let push = try ZMQSocket(ctx, .push)
    if curve { try push.makeCurveClient(serverKey: serverKeys.publicKey, keys: clientKeys) }
    try push.setSendHighWaterMark(0)
    try push.connect(e["inputs[0]"]!)
    let pull = try ZMQSocket(ctx, .pull)
    if curve { try pull.makeCurveClient(serverKey: serverKeys.publicKey, keys: clientKeys) }
    try pull.setReceiveHighWaterMark(0)
    try pull.connect(e["outputs.scores"]!)
    // The daemon never waits for a consumer: outputs it sends before this socket's connection is complete are
    // dropped, and the warm-up below then waited for them until its receive timed out and the generator stopped (a
    // few runs in a hundred). So first one point at a time until one's output comes back: key 0's, timestamped before
    // the warm-up's (a key of its own would count against `windows.max_keys`, which the rows set to the key count).
    try pull.setReceiveTimeout(200)
    for probe in 0... {
        guard probe < 300 else { fatalError("no output from the daemon within 60 s of connecting") }
        try push.send(point(key: 0, step: probe - 1_000, sent: now()))
        if (try? pull.receive()) != nil { break }
    }
    // A row ends early (and says how many outputs the daemon dropped) when nothing arrives for 10 s.
    try pull.setReceiveTimeout(10_000)
    var step = 0
    // Warm-up: fill every key's window once (not for the churn case, where windows are evicted anyway).
    if keys < 1_000_000 {
        // In chunks well under the daemon's output high-water mark (100k), which a send beyond drops.
        let warm = keys * 12
        for chunk in stride(from: 0, to: warm, by: 10_000) {
            let end = min(warm, chunk + 10_000)
            for i in chunk..<end { try push.send(point(key: i % keys, step: i / keys, sent: now())) }
            for _ in chunk..<end { _ = try pull.receive() }
        }
        step = 12
    }
    for rate in rates {
        let perSecond = Double(rate == 0 ? 400_000 : rate)
        // Whole messages: the warm-up ends on a message boundary.
        let warm = (Int(perSecond * warmupSeconds) + perMessage - 1) / perMessage * perMessage
        let measured = Int(perSecond * seconds), total = warm + measured
        let messages = (total + perMessage - 1) / perMessage
        final class Results: @unchecked Sendable { var latencies: [Double] = []; var sendTimes: [Double] = []; var received = 0; var statuses: [String: Int] = [:]; var last = 0.0 }
        let results = Results()
        let keepSendTimes = dumpPrefix != nil
        // Touch the latency buffer's pages now, not while measuring.
        results.latencies = [Double](repeating: 0, count: measured)
        results.latencies.removeAll(keepingCapacity: true)
        let box = SocketBox(pull)
        let done = DispatchSemaphore(value: 0)
        // The daemon's context switches are counted over the whole row, warm-up included (same rate): reading every
        // thread's /proc status takes about a millisecond, which at the warm-up's end delayed the first measured sends.
        let threadsStart = daemon.threads()
        let switchesStart = ThreadCounters.switches(threadsStart)
        let start = now()
        Thread.detachNewThread {
            defer { done.signal() }
            // Statuses counted by their bytes (a String and a hash per output were a tenth of the generator).
            var statusCounts: [([UInt8], Int)] = []
            defer { for (st, n) in statusCounts { results.statuses[String(decoding: st, as: UTF8.self), default: 0] += n } }
            while results.received < total {
                // The output's bytes lent by the socket (no array per output).
                let got = try? box.socket.receive { body -> Bool in
                    let t = now()
                    // Outputs come back in the order the points went out (per key): the first `warm` are the warm-up's.
                    if results.received < warm { results.received += 1; return true }
                    if let digits = field(body, uuidPattern), !digits.isEmpty {
                        var sent: Int64 = 0
                        for d in digits { sent = sent &* 10 &+ Int64(d &- 48) }
                        results.latencies.append(t - Double(sent) / 1e9)
                        if keepSendTimes { results.sendTimes.append(Double(sent) / 1e9) }
                    }
                    if let st = field(body, statusPattern) {
                        if let k = statusCounts.firstIndex(where: { same($0.0, st) }) { statusCounts[k].1 += 1 } else { statusCounts.append((Array(st), 1)) }
                    }
                    results.received += 1
                    results.last = t
                    return true
                }
                guard got == true else { break }
            }
        }
        var sent = 0, measureStart = start, cpuStart = daemon.cpuSeconds(), ownStart = processCPU()
        let dropReasons = ["queue_full", "rejected", "retries_exhausted"]
        let written0 = remoteWrite == nil ? 0 : metric(port: e["http_port"]!, "aeflow_remote_write_samples_sent_total")
        let dropped0 = remoteWrite == nil ? [] : dropReasons.map { metric(port: e["http_port"]!, "aeflow_remote_write_samples_dropped_total{reason=\"\($0)\"}") }
        var message: [UInt8] = []
        for m in 0..<messages {
            var t = now()
            if rate > 0 {
                // Pace without spinning (the generator shares the machine with the daemon): sleep while
                // more than 100 µs ahead, so points go out in short bursts at the offered rate.
                let due = start + Double(m * perMessage) / Double(rate)
                let ahead = due - t
                if ahead > 0.0001 {
                    var ts = timespec(tv_sec: 0, tv_nsec: Int(ahead * 1e9))
                    nanosleep(&ts, nil)
                    t = now()
                }
            }
            let n = min(perMessage, total - sent)
            if sent == warm { measureStart = t; cpuStart = daemon.cpuSeconds(); ownStart = processCPU() }
            message.removeAll(keepingCapacity: true)
            if n > 1 { message.append(UInt8(ascii: "[")) }
            for j in 0..<n {
                let i = sent + j
                if j > 0 { message.append(UInt8(ascii: ",")) }
                appendPoint(key: keys >= 1_000_000 ? (step * 7919 + i) % keys : i % keys, step: step + i / max(keys, 1), sentNs: Int64(t * 1e9), to: &message)
            }
            if n > 1 { message.append(UInt8(ascii: "]")) }
            try push.send(message)
            sent += n
        }
        let sendEnd = now()
        done.wait()
        step += total / max(keys, 1) + 1
        let elapsed = results.last - measureStart
        let cpu = daemon.cpuSeconds() - cpuStart   // read once the outputs are in: the daemon is idle again
        let own = processCPU() - ownStart
        let threadsEnd = daemon.threads()
        let switches = ThreadCounters.switches(threadsEnd) - switchesStart
        if let dumpPrefix {
            // First line: the measured part's start on CLOCK_MONOTONIC, to set the points beside other clocked samples.
            let lines = ["# measure_start_monotonic \(measureStart)"] + zip(results.sendTimes, results.latencies).map { "\($0.0 - measureStart) \($0.1)" }
            try lines.joined(separator: "\n").write(toFile: "\(dumpPrefix)-\(keys)-\(rate).txt", atomically: true, encoding: .utf8)
        }
        let lat = results.latencies.sorted()
        func pct(_ p: Double) -> Double { lat.isEmpty ? .nan : lat[min(lat.count - 1, Int(Double(lat.count) * p))] * 1e6 }
        let mem = daemon.memory()
        var history = ""
        if withRetrain {
            // Let the writer catch up with what was accepted before reading its counters.
            let before = now()
            var written = 0.0, dropped = 0.0
            repeat {
                written = metric(port: e["http_port"]!, "aeflow_history_rows_written_total") + metric(port: e["http_port"]!, "aeflow_history_rows_replaced_total")
                dropped = metric(port: e["http_port"]!, "aeflow_history_rows_dropped_total")
                if metric(port: e["http_port"]!, "aeflow_history_queue_depth") == 0 { break }
                var ts = timespec(tv_sec: 0, tv_nsec: 100_000_000)
                nanosleep(&ts, nil)
            } while now() - before < 60
            history = ", \"with_retrain\": true, \"history_written_total\": \(written), \"history_dropped_total\": \(dropped), "
                + "\"history_catch_up_s\": \(now() - sendEnd)"
        }
        if curve { history += ", \"curve\": true" }
        if remoteWrite != nil {
            // The writer's queue drains after the outputs are in: wait for it (at most 120 s), then count.
            let port = e["http_port"]!
            let before = now()
            while metric(port: port, "aeflow_remote_write_queue_samples") > 0 && now() - before < 120 {
                var ts = timespec(tv_sec: 0, tv_nsec: 50_000_000)
                nanosleep(&ts, nil)
            }
            let drained = now()
            let written = metric(port: port, "aeflow_remote_write_samples_sent_total") - written0
            var dropped: [String] = []
            for (i, reason) in dropReasons.enumerated() {
                dropped.append("\"\(reason)\": \(metric(port: port, "aeflow_remote_write_samples_dropped_total{reason=\"\(reason)\"}") - dropped0[i])")
            }
            history += ", \"remote_write\": true, \"remote_write_samples\": \(written), \"remote_write_samples_per_s\": \(written / (drained - start)), "
                + "\"remote_write_drain_s\": \(drained - results.last), \"remote_write_dropped_total\": {\(dropped.joined(separator: ", "))}"
        }
        if results.received < total { history += ", \"missing_outputs\": \(total - results.received)" }
        if results.received < total && !forwarder {   // (the forwarder has no /metrics)
            history += ", \"daemon_outputs_dropped_total\": "
                + "\(metric(port: e["http_port"]!, "aeflow_outputs_dropped_total{output=\"scores\"}")), "
                + "\"daemon_points_in_total\": \(metric(port: e["http_port"]!, "aeflow_points_in_total")), "
                + "\"daemon_messages_in_total\": \(metric(port: e["http_port"]!, "aeflow_messages_in_total")), "
                + "\"daemon_scored_total\": \(metric(port: e["http_port"]!, "aeflow_outputs_total{status=\"scored\"}"))"
        }
        let statuses = results.statuses.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        emit("{\"bench\": \"\(forwarder ? "forwarder" : "daemon")\", \"keys\": \(keys), \"scope\": \"\(perKeyModels ? "key" : "pipeline")\", \"offered_per_s\": \(rate), \"points_per_message\": \(perMessage), "
              + (forwarder ? "\"forwarder_work_us\": \(forwarderWork), " : "")
              + "\"points\": \(measured), \"warmup_points\": \(warm), \"sent_per_s\": \(Double(measured) / (sendEnd - measureStart)), "
              + "\"scored_per_s\": \(Double(results.received - warm) / elapsed), "
              + "\"daemon_cpu_us_per_point\": \(cpu / Double(max(1, results.received - warm)) * 1e6), \"daemon_cores\": \(cpu / elapsed), "
              + "\"generator_cores\": \(own / elapsed), \"daemon_switches_per_point\": \(Double(switches) / Double(max(1, results.received))), "
              + "\"p50_us\": \(pct(0.5)), \"p99_us\": \(pct(0.99)), \"rss_mb\": \(Double(mem.rss) / 1e6), \"peak_rss_mb\": \(Double(mem.peak) / 1e6), "
              + "\"daemon_threads\": {\(ThreadCounters.json(from: threadsStart, to: threadsEnd, points: results.received, seconds: results.last - start))}, "
              + "\"statuses\": {\(statuses)}\(history)}")
    }
    push.close(); pull.close()
    daemon.stop()
}
