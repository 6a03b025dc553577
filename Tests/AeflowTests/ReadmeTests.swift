import Foundation
import Testing
import TestSupport
import TensorCore

/// The README's commands, run as written.
@Suite(.serialized) struct ReadmeTests {
    /// The fenced block of `language` that follows `heading`.
    static func block(_ readme: String, after heading: String, language: String) -> String? {
        guard let h = readme.range(of: heading), let open = readme.range(of: "```\(language)\n", range: h.upperBound..<readme.endIndex),
              let close = readme.range(of: "\n```", range: open.upperBound..<readme.endIndex) else { return nil }
        return String(readme[open.upperBound..<close.lowerBound])
    }

    /// "Score your own stream": the copy-paste pyzmq example against `aeflow serve --with-retrain`.
    @Test func thePythonExamplePublishesAndGetsScores() throws {
        guard TestPython.isAvailable else { Issue.record("no test Python at \(TestPython.path); run `make test-deps`"); return }
        let readme = try read("README.md")
        let example = try #require(Self.block(readme, after: "## Score your own stream", language: "python"))
        let dir = try TemporaryDirectory(prefix: "aeflow-readme")
        try example.write(toFile: dir.file("example.py"), atomically: true, encoding: .utf8)
        // The embedded default pipeline and socket types; ephemeral ports and a private store instead of 5555/5556.
        try """
            inputs: [{endpoint: "tcp://127.0.0.1:0", type: sub, bind: true}]
            outputs:
              scores: {endpoint: "tcp://127.0.0.1:0", type: pub, bind: true}
              train_requests: {endpoint: "tcp://127.0.0.1:0", type: push, bind: true}
              history: null
            http: {port: 0}
            store: {path: "\(dir.file("models"))", poll_interval_ms: 200}
            history: {path: "\(dir.file("history.sqlite"))"}
            """.write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        let daemon = try LineProcess(Subprocess.aeflow, ["serve", "--with-retrain", "--config", dir.file("cfg.yaml")])
        defer { daemon.signal(SIGTERM); daemon.waitForExit(timeout: 60) }
        let ready = try #require(daemon.waitForLine(containing: "msg=\"daemon ready\"", timeout: 60))
        func field(_ name: String) -> String? {
            ready.split(separator: " ").first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
        }
        let r = try Subprocess.run(TestPython.path, [dir.file("example.py")],
                                   environment: ["AEFLOW_IN": try #require(field("inputs[0]")), "AEFLOW_OUT": try #require(field("outputs.scores"))])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let scored = lines.last.flatMap { $0.hasPrefix("scored ") ? Int($0.dropFirst(7)) : nil } ?? 0
        #expect(scored >= 500, "the example printed \(lines.suffix(3)); the daemon's last lines: \(daemon.stderrLines.suffix(6))")
        // Its spikes (every 100th point) score far above the other points.
        var spikes: [Double] = [], rest: [Double] = []
        for l in lines.dropLast() {
            let f = l.split(separator: " ")
            guard f.count == 3, let ts = Int64(f[0]), let s = Double(f[1]) else { continue }
            #expect(f[2] == "v1")
            let i = (ts - 1_700_000_000_000) / 60_000
            if i % 100 == 0 { spikes.append(s) } else if i % 100 >= 12 { rest.append(s) }
        }
        try #require(!spikes.isEmpty && !rest.isEmpty, "no scored spikes or no other scored points")
        let median = rest.sorted()[rest.count / 2]
        #expect(spikes.min()! > 3 * median, "spikes \(spikes) vs median \(median)")
    }

    /// Ctrl-C (SIGINT) during the live phase: the demo stops publishing, every point sent is answered, the
    /// summary is printed and it exits 0.
    @Test func theDemoStopsCleanlyOnCtrlC() throws {
        let dir = try TemporaryDirectory(prefix: "aeflow-demo")
        let demo = try LineProcess(Subprocess.aeflow, ["demo", "--keys", "2", "--dir", dir.file("demo")])
        let live = demo.waitForLines(count: 1, inStderr: false, timeout: 120) { $0.contains("phase=\"live") }
        #expect(live == 1, "\(demo.stdoutLines.suffix(3)) \(demo.stderrLines.suffix(3))")
        demo.signal(SIGINT)
        #expect(demo.waitForExit(timeout: 60) == 0)
        let summary = try #require(demo.stdoutLines.first { $0.hasPrefix("demo summary:") })
        let sent = summary.split(separator: " ").first { $0.hasPrefix("points_sent=") }.map { $0.dropFirst(12) }
        let outputs = summary.split(separator: " ").first { $0.hasPrefix("outputs=") }.map { $0.dropFirst(8) }
        #expect(sent != nil && sent == outputs, "\(summary)")
        #expect(summary.contains(" non_finite_scores=0 ") && summary.contains(" unknown_points=0 "), "\(summary)")
        #expect(demo.stderrLines.contains { $0.contains("msg=\"scoring drained\"") })
    }

    /// The two commands at the top, in a fresh clone: `make demo` in its bounded form builds, runs the
    /// daemon, the retrain stage and the publisher, and the injected anomalies score above the rest.
    @Test func theDemoRunsFromAFreshClone() throws {
        let readme = try read("README.md")
        let quickStart = try #require(Self.block(readme, after: "# AEFlow", language: "sh"))
        #expect(quickStart.hasPrefix("make demo") && quickStart.contains("\nmake test"), "the two commands come first")
        let bounded = #"make demo DEMO_ARGS="--duration 20s --plot demo.png""#
        #expect(readme.contains(bounded))
        let dir = try TemporaryDirectory(prefix: "aeflow-clone")
        let clone = dir.file("aeflow")
        let git = try Subprocess.run("/usr/bin/git", ["clone", "--quiet", repositoryRoot, clone])
        #expect(git.status == 0, "\(git.stderr)")
        let run = try Subprocess.run("/usr/bin/make", ["demo", "DEMO_ARGS=--duration 20s --plot demo.png"], currentDirectory: clone)
        #expect(run.status == 0, "make demo failed: \(run.stderr.suffix(2000))")
        let summary = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("demo summary:") }, "\(run.stdout.suffix(2000))")
        var fields: [String: String] = [:]
        for f in summary.split(separator: " ") {
            let kv = f.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        let number = { (k: String) in Double(fields[k]?.trimmingCharacters(in: CharacterSet(charactersIn: "%")) ?? "") ?? -1 }
        #expect(number("points_sent") > 8000 && number("outputs") == number("points_sent"), "every point answered: \(summary)")
        #expect(number("scored") > 0 && number("injected") > 0, "\(summary)")
        #expect(number("non_finite_scores") == 0 && number("unknown_points") == 0, "every scored output has a finite score on its point: \(summary)")
        #expect(number("injected_mean_score") > 3 * number("normal_p99_score"), "\(summary)")
        #expect(number("injected_above_normal_p99") >= 90, "\(summary)")
        // The chart: a PNG of four stacked charts.
        let png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(clone)/demo.png")))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == 1200 && height == 4 * 340)
    }
}
