import Foundation
import ZMQ

/// CURVE for every socket of a process (config `security.curve`): sockets that bind are CURVE servers whose
/// context's ZAP handler accepts only allowed client keys; sockets that connect are CURVE clients of the
/// configured server key. Without `security.curve`, sockets are plain (and nothing here is used).
public struct SocketSecurity: Sendable {
    public let keys: CurveKeyPair
    public let serverKey: String
    public let allowed: Set<String>

    /// A key file or allow-list entry that could not be used, with its path.
    public struct KeyError: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "security.curve: \(path): \(reason)" }
    }

    /// Reads the key files of `config.curve` (nil when CURVE is not configured).
    public static func load(_ config: AEFlowConfig) throws(KeyError) -> SocketSecurity? {
        guard let c = config.curve else { return nil }
        guard CurveKeyPair.isCurveAvailable else { throw KeyError(path: c.secretKeyFile, reason: "this libzmq has no CURVE support") }
        let secret = try readKey(c.secretKeyFile)
        let publicKey: String
        do { publicKey = try CurveKeyPair.publicKey(forSecret: secret) } catch { throw KeyError(path: c.secretKeyFile, reason: "not a CURVE secret key") }
        let keys = CurveKeyPair(publicKey: publicKey, secretKey: secret)
        var allowed: Set<String> = [publicKey]
        for entry in c.allowedClients {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: entry, isDirectory: &isDirectory) else {
                throw KeyError(path: entry, reason: "no such file or directory")
            }
            if isDirectory.boolValue {
                let files = ((try? FileManager.default.contentsOfDirectory(atPath: entry)) ?? []).filter { $0.hasSuffix(".key") }.sorted()
                for f in files { allowed.formUnion(try readKeys("\(entry)/\(f)")) }
            } else {
                allowed.formUnion(try readKeys(entry))
            }
        }
        let server = try c.serverKeyFile.map { path throws(KeyError) in try readKey(path) } ?? publicKey
        return SocketSecurity(keys: keys, serverKey: server, allowed: allowed)
    }

    /// One Z85 key from a file written by `aeflow keys generate` (blank lines and `#` comments ignored).
    static func readKey(_ path: String) throws(KeyError) -> String {
        let keys = try readKeys(path)
        guard keys.count == 1 else { throw KeyError(path: path, reason: "expected one key, found \(keys.count)") }
        return keys[0]
    }

    static func readKeys(_ path: String) throws(KeyError) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw KeyError(path: path, reason: "cannot be read") }
        var out: [String] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard CurveKeyPair.isValid(line) else { throw KeyError(path: path, reason: "line \(n + 1) is not a 40-character Z85 key") }
            out.append(line)
        }
        return out
    }

    /// Starts the ZAP handler of `context` (call before any server socket binds).
    public func startZAP(_ context: ZMQContext, onRefused: (@Sendable (String, String) -> Void)? = nil) throws(ZMQError) -> ZAPHandler {
        let zap = ZAPHandler(context: context, allowedPublicKeys: allowed)
        zap.onRefused = onRefused
        try zap.start()
        return zap
    }

    /// Configures `socket` before it binds (server) or connects (client).
    public func apply(to socket: ZMQSocket, binds: Bool) throws(ZMQError) {
        if binds {
            try socket.setZAPDomain("aeflow")
            try socket.makeCurveServer(secretKey: keys.secretKey)
        } else {
            try socket.makeCurveClient(serverKey: serverKey, keys: keys)
        }
    }
}
