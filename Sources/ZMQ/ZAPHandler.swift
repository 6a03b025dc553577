import CZeroMQ
import SystemCalls
import Foundation

/// A ZAP handler (RFC 27) for one context: every CURVE connection to a server socket of that context is
/// accepted only when the client's public key is in `allowed`; everything else is refused with 400 and
/// counted. Start it before binding CURVE server sockets (libzmq accepts every key when no handler is
/// bound). Answers on its own thread.
public final class ZAPHandler: @unchecked Sendable {
    // @unchecked: the socket is used by the handler thread only; `allowed` is immutable; counters under `lock`.
    public let allowed: Set<String>
    private let context: ZMQContext
    private let lock = NSLock()
    private var stopping = false
    private var acceptedCount = 0, refusedCount = 0
    private let done = DispatchSemaphore(value: 0)
    private let started = DispatchSemaphore(value: 0)
    private var startError: ZMQError?
    /// Called (on the handler thread) for every refusal with the client's address and key (Z85, or the
    /// mechanism when not CURVE).
    public var onRefused: (@Sendable (_ address: String, _ key: String) -> Void)?

    public static let endpoint = "inproc://zeromq.zap.01"

    public init(context: ZMQContext, allowedPublicKeys: Set<String>) {
        (self.context, self.allowed) = (context, allowedPublicKeys)
    }

    public var accepted: Int { lock.lock(); defer { lock.unlock() }; return acceptedCount }
    public var refused: Int { lock.lock(); defer { lock.unlock() }; return refusedCount }

    /// Binds the handler's socket and starts answering; returns once it is bound.
    public func start() throws(ZMQError) {
        let t = ThreadName.thread("aeflow-zap") { [self] in run() }
        t.start()
        started.wait()
        if let startError { throw startError }
    }

    public func stop() {
        lock.lock()
        let was = stopping
        stopping = true
        lock.unlock()
        if !was { done.wait() }
    }

    private var isStopping: Bool { lock.lock(); defer { lock.unlock() }; return stopping }

    private func run() {
        defer { done.signal() }
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket(context, .rep)
            try socket.bind(Self.endpoint)
        } catch {
            startError = error
            started.signal()
            return
        }
        started.signal()
        var poller = ZMQPoller()
        poller.add(socket)
        while !isStopping {
            guard let ready = try? poller.poll(timeoutMs: 100) else { break }
            guard !ready.isEmpty, let request = try? socket.receive(dontWait: true) else { continue }
            let reply = answer(request)
            try? socket.send(reply)
        }
        socket.close()
    }

    /// RFC 27: version, request id, domain, address, identity, mechanism, credentials… → version,
    /// request id, status code, status text, user id, metadata.
    func answer(_ frames: [[UInt8]]) -> [[UInt8]] {
        guard frames.count >= 6, frames[0] == Array("1.0".utf8) else {
            return [Array("1.0".utf8), frames.count > 1 ? frames[1] : [], Array("500".utf8), Array("malformed ZAP request".utf8), [], []]
        }
        let id = frames[1]
        let address = String(decoding: frames[3], as: UTF8.self)
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        var key = mechanism
        var ok = false
        if mechanism == "CURVE", frames.count >= 7, frames[6].count == 32, let z85 = Self.z85(frames[6]) {
            key = z85
            ok = allowed.contains(z85)
        }
        lock.lock()
        if ok { acceptedCount += 1 } else { refusedCount += 1 }
        lock.unlock()
        if !ok { onRefused?(address, key) }
        return [Array("1.0".utf8), id, Array((ok ? "200" : "400").utf8), Array((ok ? "OK" : "client key not allowed").utf8),
                ok ? Array(key.utf8) : [], []]
    }

    static func z85(_ bytes: [UInt8]) -> String? {
        var out = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        guard zmq_z85_encode(&out, bytes, bytes.count) != nil else { return nil }
        return String(cString: out)
    }
}

extension ZMQSocket {
    /// Sets the ZAP domain (servers consult the context's ZAP handler for connections in it).
    public func setZAPDomain(_ domain: String) throws(ZMQError) { try setOption(ZMQ_ZAP_DOMAIN, bytes: Array(domain.utf8)) }
}
