// The no-work baseline for LoadGen's daemon rows: a plain ZeroMQ forwarder in place of `aeflow serve` (the issue's
// "same harness with a plain ZeroMQ forwarder"). It binds a PULL input and a PUSH output on tcp loopback (port 0),
// prints the daemon's ready lines with their endpoints, and hands every message from input to output unchanged in
// libzmq's own loop (`zmq_proxy`, C): no decoding, no scoring, no encoding. What it moves on a machine, with the same
// generator beside it, is a ceiling for any stage that reads and writes one ZeroMQ message per point there.
//
//   .build/release/LoadGen --forwarder --keys 10000 --rates 500000,0   (LoadGen starts this program)
import CZeroMQ
import Foundation

func fail(_ what: String) -> Never {
    FileHandle.standardError.write(Data("forwarder: \(what): \(String(validatingCString: zmq_strerror(zmq_errno())) ?? "errno \(zmq_errno())")\n".utf8))
    exit(1)
}

/// A socket bound to an ephemeral loopback port, with no high-water mark (as the generator's), and its endpoint.
func bound(_ context: UnsafeMutableRawPointer, _ type: Int32) -> (UnsafeMutableRawPointer, String) {
    guard let s = zmq_socket(context, type) else { fail("zmq_socket") }
    var hwm: Int32 = 0
    let option = type == ZMQ_PULL ? ZMQ_RCVHWM : ZMQ_SNDHWM
    guard zmq_setsockopt(s, option, &hwm, MemoryLayout<Int32>.size) == 0 else { fail("zmq_setsockopt") }
    guard zmq_bind(s, "tcp://127.0.0.1:0") == 0 else { fail("zmq_bind") }
    var buffer = [CChar](repeating: 0, count: 256)
    var size = buffer.count
    guard zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { fail("zmq_getsockopt") }
    return (s, String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
}

guard let context = zmq_ctx_new() else { fail("zmq_ctx_new") }
let (input, inputEndpoint) = bound(context, ZMQ_PULL)
let (output, outputEndpoint) = bound(context, ZMQ_PUSH)
// The lines LoadGen waits for after starting `aeflow serve` (it reads the endpoints from the first).
FileHandle.standardError.write(Data("daemon ready inputs[0]=\(inputEndpoint) outputs.scores=\(outputEndpoint) http_port=0\nmodels preloaded\n".utf8))
signal(SIGTERM) { _ in _exit(0) }
zmq_proxy(input, output, nil)
fail("zmq_proxy")
