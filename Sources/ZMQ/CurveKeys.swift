import CZeroMQ

/// A CURVE key pair in Z85 text (40 characters each), as libzmq and `aeflow keys generate` use them.
public struct CurveKeyPair: Equatable, Sendable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) { (self.publicKey, self.secretKey) = (publicKey, secretKey) }

    /// A new random key pair (libzmq built with libsodium/tweetnacl).
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41), sec = [CChar](repeating: 0, count: 41)
        _ = try zmqCall("zmq_curve_keypair") { zmq_curve_keypair(&pub, &sec) }
        return CurveKeyPair(publicKey: String(cString: pub), secretKey: String(cString: sec))
    }

    /// The public key belonging to a Z85 secret key.
    public static func publicKey(forSecret secret: String) throws(ZMQError) -> String {
        var pub = [CChar](repeating: 0, count: 41)
        _ = try zmqCall("zmq_curve_public") { zmq_curve_public(&pub, secret) }
        return String(cString: pub)
    }

    /// Whether `key` is a well-formed 40-character Z85 key (decodes to 32 bytes).
    public static func isValid(_ key: String) -> Bool {
        guard key.utf8.count == 40 else { return false }
        var out = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&out, key) != nil
    }

    public static var isCurveAvailable: Bool { zmq_has("curve") != 0 }
}

extension ZMQSocket {
    /// Makes this socket a CURVE server with the given Z85 secret key.
    public func makeCurveServer(secretKey: String) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVER, Int32(1))
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(secretKey.utf8))
    }

    /// Makes this socket a CURVE client of `serverKey` with its own key pair.
    public func makeCurveClient(serverKey: String, keys: CurveKeyPair) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVERKEY, bytes: Array(serverKey.utf8))
        try setOption(ZMQ_CURVE_PUBLICKEY, bytes: Array(keys.publicKey.utf8))
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(keys.secretKey.utf8))
    }
}
