// The no-work baseline for LoadGen's daemon rows: a plain ZeroMQ forwarder in place of `aeflow serve` (the issue's
// "same harness with a plain ZeroMQ forwarder"). It binds a PULL input and a PUSH output on tcp loopback (port 0),
// prints the daemon's ready lines with their endpoints, and hands every message from input to output unchanged in
// libzmq's own loop (`zmq_proxy`, C): no decoding, no scoring, no encoding. What it moves on a machine, with the same
// generator beside it, is a ceiling for any stage that reads and writes one ZeroMQ message per point there.
//
//   .build/release/LoadGen --forwarder --keys 10000 --rates 500000,0   (LoadGen starts this program)
import Foundation
import ZMQ

do {
    let context = try ZMQContext()
    let input = try ZMQSocket(context, .pull), output = try ZMQSocket(context, .push)
    // No high-water mark, as the generator's sockets.
    try input.setReceiveHighWaterMark(0)
    try output.setSendHighWaterMark(0)
    try input.bind("tcp://127.0.0.1:0")
    try output.bind("tcp://127.0.0.1:0")
    // The lines LoadGen waits for after starting `aeflow serve` (it reads the endpoints from the first).
    FileHandle.standardError.write(Data("daemon ready inputs[0]=\(input.lastEndpoint) outputs.scores=\(output.lastEndpoint) http_port=0\nmodels preloaded\n".utf8))
    signal(SIGTERM) { _ in _exit(0) }
    try ZMQSocket.proxy(input, output)
} catch {
    FileHandle.standardError.write(Data("forwarder: \(error)\n".utf8))
    exit(1)
}
