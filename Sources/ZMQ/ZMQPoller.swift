import CZeroMQ

/// Waits for input on several sockets (and optionally raw file descriptors) with `zmq_poll`.
public struct ZMQPoller {
    private var items: [zmq_pollitem_t] = []
    public private(set) var sockets: [ZMQSocket] = []

    public init() {}

    public mutating func add(_ socket: ZMQSocket) {
        sockets.append(socket)
        items.append(zmq_pollitem_t(socket: socket.raw, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
    }

    /// Adds a plain file descriptor (e.g. an eventfd used to wake the loop); reported after the sockets.
    public mutating func add(fileDescriptor fd: Int32) {
        items.append(zmq_pollitem_t(socket: nil, fd: fd, events: Int16(ZMQ_POLLIN), revents: 0))
    }

    /// Indices (in order of addition) of the items readable within `timeoutMs` (-1 waits forever).
    public mutating func poll(timeoutMs: Int) throws(ZMQError) -> [Int] {
        for i in items.indices { items[i].revents = 0 }
        let n = try zmqCall("zmq_poll") { items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), timeoutMs) } }
        guard n > 0 else { return [] }
        return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
