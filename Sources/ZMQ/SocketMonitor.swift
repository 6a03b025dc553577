import CZeroMQ
import SystemCalls
import Foundation
import Synchronization

/// Why a connection to a CURVE server socket failed its handshake (libzmq's socket monitor events).
public enum HandshakeFailure: String, Sendable, CaseIterable {
    /// The client speaks plain text (NULL mechanism) to a CURVE server.
    case plaintext
    /// The client's CURVE HELLO cannot be decrypted: it believes in another server key.
    case wrongServerKey = "wrong_server_key"
    /// The ZAP handler refused the client's key (reported by ``ZAPHandler``, listed here for the metric's labels).
    case unlistedKey = "unlisted_key"
    /// Any other handshake failure (malformed commands, I/O during the handshake).
    case other
}

/// Counts a socket's connected peers (from its monitor's connect/accept/disconnect events).
public final class PeerCount: Sendable {
    private let value = Mutex(0)
    public init() {}
    public var current: Int { value.withLock { $0 } }
    func change(_ delta: Int) { value.withLock { $0 = Swift.max(0, $0 + delta) } }
}

/// Watches sockets with libzmq's socket monitor: each watched socket publishes its events on an inproc PAIR
/// endpoint that this monitor's own thread reads. Failed handshakes (CURVE servers) are classified and
/// reported through `onFailure` (with the peer's address; refusals by the ZAP handler are reported there, not
/// here); connections and disconnections update a socket's ``PeerCount``.
public final class SocketMonitor: @unchecked Sendable {
    // @unchecked: `pending` and `stopping` are guarded by `lock`; the PAIR sockets belong to the monitor thread.
    private let context: ZMQContext
    private let lock = NSLock()
    private var pending: [(String, PeerCount?)] = []
    private var stopping = false
    private var counter = 0
    private let done = DispatchSemaphore(value: 0)
    private var started = false
    public var onFailure: (@Sendable (HandshakeFailure, String) -> Void)?

    public init(context: ZMQContext) { self.context = context }

    /// Starts watching `socket` (call on the thread that owns it, before it binds or connects): its failed
    /// handshakes, and with `peers` its connected peers.
    public func watch(_ socket: ZMQSocket, peers: PeerCount? = nil) throws(ZMQError) {
        guard let h = socket.raw else { throw ZMQError(operation: "monitor on a closed socket", errno: ENOTSOCK) }
        lock.lock()
        counter += 1
        let endpoint = "inproc://aeflow.handshake-monitor.\(ObjectIdentifier(self).hashValue).\(counter)"
        lock.unlock()
        var events = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        if peers != nil { events |= ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED }
        _ = try zmqCall("zmq_socket_monitor(\(endpoint))") { zmq_socket_monitor(h, endpoint, events) }
        lock.lock()
        pending.append((endpoint, peers))
        let start = !started
        started = true
        lock.unlock()
        if start {
            let t = ThreadName.thread("aeflow-handshakes") { [self] in run() }
            t.start()
        }
    }

    public func stop() {
        lock.lock()
        let wasRunning = started && !stopping
        stopping = true
        lock.unlock()
        if wasRunning { done.wait() }
    }

    private func run() {
        defer { done.signal() }
        var sockets: [ZMQSocket] = []
        var counts: [PeerCount?] = []
        var poller = ZMQPoller()
        while true {
            lock.lock()
            let (stop, new) = (stopping, pending)
            pending.removeAll()
            lock.unlock()
            if stop { break }
            for (endpoint, peers) in new {
                guard let s = try? ZMQSocket(context, .pair), (try? s.connect(endpoint)) != nil else { continue }
                sockets.append(s)
                counts.append(peers)
                poller.add(s)
            }
            guard let ready = try? poller.poll(timeoutMs: 100) else { break }
            for i in ready {
                while let frames = try? sockets[i].receive(dontWait: true), frames.count >= 2, frames[0].count >= 6 {
                    let event = UInt16(frames[0][0]) | UInt16(frames[0][1]) << 8
                    let value = UInt32(frames[0][2]) | UInt32(frames[0][3]) << 8 | UInt32(frames[0][4]) << 16 | UInt32(frames[0][5]) << 24
                    switch Int32(event) {
                    case ZMQ_EVENT_ACCEPTED, ZMQ_EVENT_CONNECTED: counts[i]?.change(1)
                    case ZMQ_EVENT_DISCONNECTED: counts[i]?.change(-1)
                    default:
                        onFailure?(Self.classify(event: Int32(event), value: Int32(bitPattern: value)), String(decoding: frames[1], as: UTF8.self))
                    }
                }
            }
        }
        for s in sockets { s.close() }
    }

    /// The failure an event stands for.
    static func classify(event: Int32, value: Int32) -> HandshakeFailure {
        guard event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL else { return .other }
        switch value {
        case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: return .plaintext
        case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC, ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO: return .wrongServerKey
        default: return .other
        }
    }
}
