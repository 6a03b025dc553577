import Foundation
import SystemCalls
import ZMQ


extension SocketConfig {
    /// The socket kind this configuration names.
    public var socketKind: ZMQSocket.Kind {
        switch type { case .sub: .sub; case .pull: .pull; case .pub: .pub; case .push: .push }
    }

    /// Opens a `kind` socket on this endpoint, the way every AEFlow stage does: CURVE from `security`, the
    /// caller's options (`configure`), the topic subscriptions of a SUB socket, then bind (creating an ipc
    /// endpoint's directory) or connect.
    public func open(_ context: ZMQContext, as kind: ZMQSocket.Kind, security: SocketSecurity?,
                     configure: (ZMQSocket) throws -> Void = { _ in }) throws -> ZMQSocket {
        let s = try ZMQSocket(context, kind)
        try security?.apply(to: s, binds: bind)
        try configure(s)
        if kind == .sub { for t in topics { try s.subscribe(t) } }
        if bind {
            if endpoint.hasPrefix("ipc://") { Files.makeParentDirectory(String(endpoint.dropFirst(6))) }
            try s.bind(endpoint)
        } else {
            try s.connect(endpoint)
        }
        return s
    }
}
