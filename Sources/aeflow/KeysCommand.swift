import ArgumentParser
import Foundation
import SystemCalls
import ZMQ

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "CURVE keys for encrypted, authenticated ZeroMQ sockets.",
        subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new CURVE key pair: NAME.key (public, Z85) and NAME.key_secret (secret, mode 0600).",
            discussion: """
                A server uses its secret file as security.curve.secret_key_file and lists clients' public files (or a
                directory of them) in security.curve.allowed_clients; a client uses the server's public file as
                security.curve.server_key_file (or, with pyzmq, curve_serverkey).
                """)
        @Option(help: "Directory for the key files (created if missing).") var dir = "."
        @Option(help: "Base name of the key files.") var name: String
        @Flag(help: "Replace existing files.") var force = false

        func run() throws {
            guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { throw fail("--name must be a plain file name") }
            let pair: CurveKeyPair
            do { pair = try CurveKeyPair.generate() } catch { throw fail("\(error)") }
            let pub = "\(dir)/\(name).key", sec = "\(dir)/\(name).key_secret"
            if !force {
                for p in [pub, sec] where FileManager.default.fileExists(atPath: p) { throw fail("\(p) exists (use --force to replace it)") }
            }
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try Self.write("# AEFlow CURVE secret key: keep it private\n\(pair.secretKey)\n", to: sec, mode: 0o600)
                try Self.write("# AEFlow CURVE public key\n\(pair.publicKey)\n", to: pub, mode: 0o644)
            } catch {
                throw fail("\(error)")
            }
            print("public key \(pair.publicKey)\nwrote \(pub) and \(sec)")
        }

        /// Creates the file with its final mode from the start (the secret is never world-readable).
        static func write(_ text: String, to path: String, mode: mode_t) throws {
            try Files.create(Array(text.utf8), at: path, mode: mode)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
