// The no-work baseline for LoadGen's daemon rows: a plain ZeroMQ forwarder in place of `aeflow serve` (the issue's
// "same harness with a plain ZeroMQ forwarder"). It binds a PULL input and a PUSH output on tcp loopback (port 0),
// prints the daemon's ready lines with their endpoints, and hands every message from input to output unchanged in
// libzmq's own loop (`zmq_proxy`, C): no decoding, no scoring, no encoding. What it moves on a machine, with the same
// generator beside it, is a ceiling for any stage that reads and writes one ZeroMQ message per point there.
//
// With `--work-us X` (LoadGen's --forwarder-work-us) it is instead a stage that spends X µs of CPU on each message:
// one thread receives a message, runs a fixed arithmetic loop calibrated at start-up to X µs on this machine (CPU
// work, not a wait: a preempted loop takes longer, as real work would), and sends the message on unchanged. Its rows
// set a stage's CPU a point beside the tail and the throughput this machine gives it (`bench/run.py tail`).
//
//   .build/release/LoadGen --forwarder --keys 10000 --rates 500000,0   (LoadGen starts this program)
//   .build/release/LoadGen --forwarder --forwarder-work-us 4 --keys 10000 --rates 100000
import Foundation
import SystemCalls
import ZMQ

/// `iterations` steps of a dependent, non-linear integer chain (multiply, then xor-shift: no closed form or
/// reordering for the optimizer to find); its result is returned and used.
@inline(never) func spin(_ iterations: Int, _ seed: UInt64) -> UInt64 {
    var x = seed | 1
    for _ in 0..<iterations { x = (x &* 0x9E37_79B9_7F4A_7C15) ^ (x >> 29) }
    return x
}

/// Loop steps per µs of this thread's CPU time: the highest of five runs of at least 5 ms each.
func stepsPerMicrosecond() -> Double {
    var best = 0.0, sink: UInt64 = 0
    var n = 100_000, runs = 0
    while runs < 5 {
        let t0 = ThreadClock.cpuSeconds()
        sink ^= spin(n, sink)
        let dt = ThreadClock.cpuSeconds() - t0
        if dt < 0.005 { n *= 2; continue }
        best = max(best, Double(n) / (dt * 1e6))
        runs += 1
    }
    if sink == 42 { print("") }   // (keeps `sink` alive)
    return best
}

var workMicroseconds = 0.0
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let a = arguments.next() {
    if a == "--work-us" {
        guard let v = arguments.next().flatMap(Double.init), v >= 0 else {
            FileHandle.standardError.write(Data("forwarder: --work-us takes a number of µs ≥ 0\n".utf8))
            exit(2)
        }
        workMicroseconds = v
    }   // (anything else is the daemon's command line LoadGen passes: ignored)
}

do {
    let context = try ZMQContext()
    let input = try ZMQSocket(context, .pull), output = try ZMQSocket(context, .push)
    // No high-water mark, as the generator's sockets.
    try input.setReceiveHighWaterMark(0)
    try output.setSendHighWaterMark(0)
    try input.bind("tcp://127.0.0.1:0")
    try output.bind("tcp://127.0.0.1:0")
    let steps = workMicroseconds > 0 ? Int((stepsPerMicrosecond() * workMicroseconds).rounded()) : 0
    // The lines LoadGen waits for after starting `aeflow serve` (it reads the endpoints from the first).
    FileHandle.standardError.write(Data("daemon ready inputs[0]=\(input.lastEndpoint) outputs.scores=\(output.lastEndpoint) http_port=0 work_steps=\(steps)\nmodels preloaded\n".utf8))
    signal(SIGTERM) { _ in _exit(0) }
    if steps == 0 {
        try ZMQSocket.proxy(input, output)
    } else {
        var sink: UInt64 = 0
        var body: [UInt8] = []
        while true {
            try input.receive(lastFrame: { (data: UnsafeRawBufferPointer) in
                body.removeAll(keepingCapacity: true)
                body.append(contentsOf: data)
            })
            sink = spin(steps, sink)
            if sink == 0 { body.append(0) }   // (never in practice: the work's result is used, so it is done)
            try output.send(body)
        }
    }
} catch {
    FileHandle.standardError.write(Data("forwarder: \(error)\n".utf8))
    exit(1)
}
