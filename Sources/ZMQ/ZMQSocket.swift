import CZeroMQ

/// One libzmq socket, owned by one thread at a time (libzmq sockets are not thread-safe; this class is
/// deliberately not `Sendable`). Close it explicitly with ``close()``; `deinit` closes it as a fallback.
public final class ZMQSocket {
    public enum Kind: Sendable {
        case pub, sub, push, pull, req, rep, dealer, router, pair
        var raw: Int32 {
            switch self {
            case .pub: ZMQ_PUB
            case .sub: ZMQ_SUB
            case .push: ZMQ_PUSH
            case .pull: ZMQ_PULL
            case .req: ZMQ_REQ
            case .rep: ZMQ_REP
            case .dealer: ZMQ_DEALER
            case .router: ZMQ_ROUTER
            case .pair: ZMQ_PAIR
            }
        }
    }

    public let context: ZMQContext
    public let kind: Kind
    private var handle: UnsafeMutableRawPointer?

    public init(_ context: ZMQContext, _ kind: Kind) throws(ZMQError) {
        guard let h = zmq_socket(context.handle, kind.raw) else { throw ZMQError(operation: "zmq_socket", errno: zmq_errno()) }
        self.context = context
        self.kind = kind
        handle = h
        try setOption(ZMQ_LINGER, Int32(0))
    }

    deinit { close() }

    public var isOpen: Bool { handle != nil }

    /// Closes the socket (idempotent).
    public func close() {
        if let h = handle {
            _ = zmq_close(h)
            handle = nil
        }
    }

    private func open(_ op: String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let h = handle else { throw ZMQError(operation: op + " on a closed socket", errno: ENOTSOCK) }
        return h
    }

    /// The raw handle, for the poller and the ZAP handler of this module.
    var raw: UnsafeMutableRawPointer? { handle }

    // MARK: options

    public func setOption(_ option: Int32, _ value: Int32) throws(ZMQError) {
        let h = try open("setsockopt")
        var v = value
        _ = try zmqCall("zmq_setsockopt(\(option))") { zmq_setsockopt(h, option, &v, MemoryLayout<Int32>.size) }
    }

    public func setOption(_ option: Int32, _ value: Int64) throws(ZMQError) {
        let h = try open("setsockopt")
        var v = value
        _ = try zmqCall("zmq_setsockopt(\(option))") { zmq_setsockopt(h, option, &v, MemoryLayout<Int64>.size) }
    }

    public func setOption(_ option: Int32, bytes: [UInt8]) throws(ZMQError) {
        let h = try open("setsockopt")
        _ = try zmqCall("zmq_setsockopt(\(option))") { bytes.withUnsafeBytes { zmq_setsockopt(h, option, $0.baseAddress, $0.count) } }
    }

    public func stringOption(_ option: Int32) throws(ZMQError) -> String {
        let h = try open("getsockopt")
        var buf = [CChar](repeating: 0, count: 512)
        var size = buf.count
        _ = try zmqCall("zmq_getsockopt(\(option))") { zmq_getsockopt(h, option, &buf, &size) }
        return String(cString: buf)
    }

    public func intOption(_ option: Int32) throws(ZMQError) -> Int32 {
        let h = try open("getsockopt")
        var v: Int32 = 0
        var size = MemoryLayout<Int32>.size
        _ = try zmqCall("zmq_getsockopt(\(option))") { zmq_getsockopt(h, option, &v, &size) }
        return v
    }

    public func subscribe(_ prefix: String) throws(ZMQError) { try setOption(ZMQ_SUBSCRIBE, bytes: Array(prefix.utf8)) }
    public func setSendHighWaterMark(_ n: Int) throws(ZMQError) { try setOption(ZMQ_SNDHWM, Int32(n)) }
    public func setReceiveHighWaterMark(_ n: Int) throws(ZMQError) { try setOption(ZMQ_RCVHWM, Int32(n)) }
    /// Peers sending a larger frame are disconnected by libzmq before the frame reaches the application.
    public func setMaximumMessageSize(_ bytes: Int) throws(ZMQError) { try setOption(ZMQ_MAXMSGSIZE, Int64(bytes)) }
    /// Receive timeout in milliseconds (-1 blocks).
    public func setReceiveTimeout(_ ms: Int) throws(ZMQError) { try setOption(ZMQ_RCVTIMEO, Int32(ms)) }
    public func setSendTimeout(_ ms: Int) throws(ZMQError) { try setOption(ZMQ_SNDTIMEO, Int32(ms)) }
    public func setLinger(_ ms: Int) throws(ZMQError) { try setOption(ZMQ_LINGER, Int32(ms)) }
    /// PUB: report a subscriber's full queue as `.wouldBlock` instead of dropping silently (so drops can be counted).
    public func setPublishNoDrop() throws(ZMQError) { try setOption(ZMQ_XPUB_NODROP, Int32(1)) }

    /// The endpoint actually bound (e.g. the port chosen for `tcp://127.0.0.1:0`).
    public var lastEndpoint: String { (try? stringOption(ZMQ_LAST_ENDPOINT)) ?? "" }

    // MARK: connections

    public func bind(_ endpoint: String) throws(ZMQError) {
        let h = try open("bind")
        _ = try zmqCall("zmq_bind(\(endpoint))") { zmq_bind(h, endpoint) }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        let h = try open("connect")
        _ = try zmqCall("zmq_connect(\(endpoint))") { zmq_connect(h, endpoint) }
    }

    /// Forwards every message from `frontend` to `backend` in libzmq's own loop (`zmq_proxy`, no capture socket) until
    /// the context is terminated, which ends it with `.terminated` (bench/Forwarder: the no-work baseline).
    public static func proxy(_ frontend: ZMQSocket, _ backend: ZMQSocket) throws(ZMQError) {
        let (f, b) = (try frontend.open("proxy"), try backend.open("proxy"))
        _ = try zmqCall("zmq_proxy") { zmq_proxy(f, b, nil) }
    }

    // MARK: messages

    /// Sends all frames as one multipart message. With `dontWait`, a full queue throws `.wouldBlock`.
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) {
        let h = try open("send")
        for (i, frame) in frames.enumerated() { try send(frame, on: h, more: i < frames.count - 1, dontWait: dontWait) }
    }

    /// A one-frame message (without the array of frames a message of several needs).
    public func send(_ frame: [UInt8], dontWait: Bool = false) throws(ZMQError) {
        try send(frame, on: try open("send"), more: false, dontWait: dontWait)
    }

    /// A two-frame message, `first` (a PUB topic, say) then `second`.
    public func send(_ first: [UInt8], _ second: [UInt8], dontWait: Bool = false) throws(ZMQError) {
        let h = try open("send")
        try send(first, on: h, more: true, dontWait: dontWait)
        try send(second, on: h, more: false, dontWait: dontWait)
    }

    private func send(_ frame: [UInt8], on h: UnsafeMutableRawPointer, more: Bool, dontWait: Bool) throws(ZMQError) {
        let flags: Int32 = (dontWait ? ZMQ_DONTWAIT : 0) | (more ? ZMQ_SNDMORE : 0)
        _ = try zmqCall("zmq_send") { frame.withUnsafeBytes { Int32(truncatingIfNeeded: zmq_send(h, $0.baseAddress, $0.count, flags)) } }
    }
    public func send(_ text: String, dontWait: Bool = false) throws(ZMQError) { try send([Array(text.utf8)], dontWait: dontWait) }

    /// One multipart message received under a size limit (``receive(dontWait:limit:keep:)``).
    public struct BoundedMessage: Sendable {
        /// Every frame when the message fits the limit; otherwise its first `keep` bytes (frames cut there).
        public var frames: [[UInt8]]
        /// Bytes over all frames, as sent.
        public var totalBytes: Int
        public var isOversize: Bool
    }

    /// Receives one whole multipart message, measuring all of its frames: when they add up to more than `limit`
    /// bytes only the first `keep` bytes are copied (the rest is received and discarded), so an oversize message
    /// costs no copy and the messages after it are read as usual. With `dontWait`, nothing pending throws.
    public func receive(dontWait: Bool = false, limit: Int, keep: Int) throws(ZMQError) -> BoundedMessage {
        var frames: [[UInt8]] = []
        var total = 0, kept = 0, oversize = false
        try eachFrame(dontWait: dontWait) { data, _ in
            total += data.count
            if !oversize && total > limit {
                // From here on, keep at most `keep` bytes of the whole message.
                oversize = true
                var budget = keep
                frames = frames.map { f in
                    let c = Swift.min(f.count, budget)
                    budget -= c
                    return Array(f.prefix(c))
                }
                kept = keep - budget
            }
            let take = oversize ? Swift.min(data.count, Swift.max(0, keep - kept)) : data.count
            if !oversize || take > 0 {   // past the kept bytes, frames are received and dropped, not listed
                frames.append(Array(UnsafeRawBufferPointer(rebasing: data[0..<take])))
            }
            if oversize { kept += take }
        }
        return BoundedMessage(frames: frames, totalBytes: total, isOversize: oversize)
    }

    /// Receives one whole multipart message and lends its last frame's bytes to `body` (no copy, no array: valid
    /// only during the call; the frames before it are dropped). With `dontWait`, nothing pending throws `.wouldBlock`.
    public func receive<R>(dontWait: Bool = false, lastFrame body: (UnsafeRawBufferPointer) -> R) throws(ZMQError) -> R {
        var result: R?
        try eachFrame(dontWait: dontWait) { data, isLast in if isLast { result = body(data) } }
        return result!
    }

    /// Receives one whole multipart message (any size). With `dontWait`, nothing pending throws `.wouldBlock`.
    public func receive(dontWait: Bool = false) throws(ZMQError) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        try eachFrame(dontWait: dontWait) { data, _ in frames.append(Array(data)) }
        return frames
    }

    /// The one receive loop: each frame of one whole multipart message lent to `visit` in order (valid only during
    /// the call), with whether it is the last. With `dontWait`, nothing pending throws `.wouldBlock` (once the first
    /// frame is in, the rest of the message is there too).
    private func eachFrame(dontWait: Bool, _ visit: (UnsafeRawBufferPointer, _ isLast: Bool) -> Void) throws(ZMQError) {
        let h = try open("receive")
        var first = true
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            let n = try zmqCall("zmq_msg_recv") { zmq_msg_recv(&msg, h, dontWait && first ? ZMQ_DONTWAIT : 0) }
            first = false
            let isLast = zmq_msg_more(&msg) == 0
            visit(UnsafeRawBufferPointer(start: n == 0 ? nil : zmq_msg_data(&msg), count: Int(n)), isLast)
            if isLast { return }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
