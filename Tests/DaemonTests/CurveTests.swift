import Daemon
import Stage
import Foundation
import Testing
import TestSupport
import TensorCore

/// CURVE on the daemon's sockets, driven by pyzmq clients: only clients with an allowed key get through.
@Suite(.serialized) struct CurveTests {
    @Test func onlyAllowedClientsAreServedAndTheRestAreRefused() throws {
        guard TestPython.isAvailable else { Issue.record("no test Python at \(TestPython.path); run `make test-deps`"); return }
        let keys = try TemporaryDirectory(prefix: "aeflow-keys")
        for (dir, name) in [("server", "server"), ("clients", "alice"), ("others", "mallory"), ("others", "impostor")] {
            let r = try Subprocess.aeflow(["keys", "generate", "--dir", keys.file(dir), "--name", name])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let secret = try String(contentsOfFile: keys.file("server/server.key_secret"), encoding: .utf8)
        #expect(secret.contains("secret"))
        let mode = try FileManager.default.attributesOfItem(atPath: keys.file("server/server.key_secret"))[.posixPermissions] as? Int
        #expect(mode == 0o600, "the secret key file is private")
        let h = try DaemonHarness(extraConfig: """
            security:
              curve: {secret_key_file: "\(keys.file("server/server.key_secret"))", allowed_clients: ["\(keys.file("clients"))"]}
            """) { try DaemonHarness.publishModel(store: $0, key: ["web"]) }

        func client(_ name: String?, serverKey: String? = nil, count: Int, start: Int, expect: Int, timeout: Double) throws -> Int {
            var args = [TestPython.script("curve_client.py"), "--input", h.endpoints["inputs[0]"]!, "--scores", h.endpoints["outputs.scores"]!,
                        "--count", String(count), "--start", String(start), "--expect", String(expect), "--timeout", String(timeout)]
            if let name {
                let dir = name == "alice" ? "clients" : "others"
                args += ["--server-key", serverKey ?? keys.file("server/server.key"), "--client-secret", keys.file("\(dir)/\(name).key_secret"),
                         "--client-public", keys.file("\(dir)/\(name).key")]
            }
            let r = try Subprocess.run(TestPython.path, args)
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout.split(separator: "\n").last.flatMap { $0.hasPrefix("DONE ") ? Int($0.dropFirst(5)) : nil } ?? -1
        }

        #expect(try client("alice", count: 20, start: 0, expect: 20, timeout: 20) == 20, "an allowed client gets every score")
        // An unknown key: the ZAP handler refuses both its connections; nothing it sends is accepted.
        #expect(try client("mallory", count: 5, start: 100, expect: 1, timeout: 3) == 0)
        #expect(try h.metric("aeflow_curve_connections_refused_total{reason=\"unlisted_key\"}", reaching: 2) >= 2)
        // Plain text, and a client that believes in another server key: the handshake never completes.
        #expect(try client(nil, count: 5, start: 200, expect: 1, timeout: 3) == 0)
        #expect(try client("impostor", serverKey: keys.file("others/mallory.key"), count: 5, start: 300, expect: 1, timeout: 3) == 0)
        // A whole NULL-mechanism greeting in one write (libzmq's plain client sends it in steps and may hang up
        // before the server reads the mechanism, which is then counted as `other`): the server hangs up on it.
        let raw = try Subprocess.run(TestPython.path, [TestPython.script("curve_client.py"), "--raw-null-greeting",
                                                       "--input", h.endpoints["inputs[0]"]!, "--timeout", "10"])
        #expect(raw.status == 0 && raw.stdout.contains("CLOSED 1"), "\(raw.stdout)\(raw.stderr)")
        // Each refusal counted by its reason (README: every refusal is counted).
        #expect(try h.metric("aeflow_curve_connections_refused_total{reason=\"plaintext\"}", reaching: 1) >= 1)
        #expect(try h.metric("aeflow_curve_connections_refused_total{reason=\"wrong_server_key\"}", reaching: 1) >= 1)
        // The daemon kept serving the allowed client, and accepted nothing from the others.
        #expect(try client("alice", count: 5, start: 20, expect: 5, timeout: 20) == 5)
        #expect(try h.metric("aeflow_points_in_total") == 25)
        #expect(h.stop() == 0)
    }

    @Test func badKeyFilesAreClearStartupErrors() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-badkeys")
        try "not a key\n".write(toFile: dir.file("bad.key_secret"), atomically: true, encoding: .utf8)
        try DaemonHarness.config(store: dir.file("models"), extra: """
            security: {curve: {secret_key_file: "\(dir.file("bad.key_secret"))"}}
            """).write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        let r = try Subprocess.aeflow(["serve", "--config", dir.file("cfg.yaml")])
        #expect(r.status != 0 && r.stderr.contains("bad.key_secret: line 1 is not a 40-character Z85 key"), "\(r.stderr)")
        try DaemonHarness.config(store: dir.file("models"), extra: """
            security: {curve: {secret_key_file: "\(dir.file("missing"))"}}
            """).write(toFile: dir.file("cfg2.yaml"), atomically: true, encoding: .utf8)
        let r2 = try Subprocess.aeflow(["serve", "--config", dir.file("cfg2.yaml")])
        #expect(r2.status != 0 && r2.stderr.contains("security.curve.secret_key_file") && r2.stderr.contains("missing cannot be read"), "\(r2.stderr)")
        try "security: {curve: {secret_key_file: x, allow: [y]}}\n".write(toFile: dir.file("cfg3.yaml"), atomically: true, encoding: .utf8)
        let unknown = try Subprocess.aeflow(["config", "validate", dir.file("cfg3.yaml")])
        #expect(unknown.status != 0 && unknown.stderr.contains("security.curve.allow: unknown key"), "\(unknown.stderr)")
    }
}
