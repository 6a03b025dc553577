import Foundation
import Scoring
import Offline
import Stage
import Testing
import TestSupport
import TensorCore

/// Parses an `aeflow score` output CSV into rows keyed by column name.
func readScores(_ text: String) -> [[String: String]] {
    let lines = text.split(separator: "\n").map(String.init)
    let header = lines[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    return lines.dropFirst().map { line in
        Dictionary(uniqueKeysWithValues: zip(header, line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
    }
}

/// The whole path against numalogic, through real processes: a checkpoint made from numalogic-trained
/// artifacts by Scripts/import_numalogic.py is scored by `aeflow score`, and the unified and feature
/// scores equal numalogic's pipeline on the same windows within 1e-4.
@Suite struct NumalogicEndToEndTests {
    @Test func importedNumalogicCheckpointScoresLikeNumalogic() throws {
        let dir = try TemporaryDirectory()
        let out = dir.file("scores.csv")
        let r = try Subprocess.aeflow(["score", "--checkpoint", Fixtures.path("e2e/numalogic_vanilla.safetensors"),
                                       "--input", Fixtures.path("e2e/test.csv"), "--output", out])
        #expect(r.status == 0, "aeflow score failed: \(r.stderr)")
        let ours = readScores(try String(contentsOfFile: out, encoding: .utf8))
        let expected = readScores(try String(contentsOfFile: Fixtures.path("e2e/expected_scores.csv"), encoding: .utf8))
        #expect(ours.count == 300 && expected.count == 289)
        #expect(ours.prefix(11).allSatisfy { $0["status"] == "warming_up" && $0["unified"] == "" })
        let byTime = Dictionary(uniqueKeysWithValues: ours.map { ($0["timestamp"]!, $0) })
        var worst: Float = 0
        for e in expected {
            let o = try #require(byTime[e["timestamp"]!])
            #expect(o["status"] == "scored")
            for (mine, theirs) in [("unified", "unified"), ("s1_score", "s1_score"), ("s2_score", "s2_score")] {
                let d = abs(Float(o[mine]!)! - Float(e[theirs]!)!)
                worst = max(worst, d)
                #expect(d <= 1e-4, "\(mine) at \(e["timestamp"]!): \(o[mine]!) vs numalogic \(e[theirs]!)")
            }
        }
        #expect(worst <= 1e-4)
    }
}

@Suite struct CommandLineTests {
    static let config = """
    stream_confs:
      demo:
        window_size: 12
        composite_keys: [host]
        ml_pipelines:
          p1:
            metrics: [cpu, mem]
            numalogic_conf:
              model: {name: VanillaAE, conf: {seq_len: 12, n_features: 2}}
              preprocess: [{name: StandardScaler}]
              threshold: {name: StdDevThreshold, conf: {std_factor: 3}}
              trainer: {min_train_size: 600, train_hours: 24, retrain_freq_hr: 12, seed: 3, pltrainer_conf: {max_epochs: 8}}
    """

    /// 2,000 one-minute rows of two seasonal metrics; rows 1,500–1,505 of `cpu` spiked and labelled.
    static func csv() -> String {
        var rng = RandomGenerator(seed: 4)
        var lines = ["timestamp,cpu,mem,label"]
        for i in 0..<2000 {
            var cpu = 50 + 10 * sin(2 * Double.pi * Double(i) / 120) + Double(rng.nextNormal())
            let mem = 200 + 20 * cos(2 * Double.pi * Double(i) / 300) + 2 * Double(rng.nextNormal())
            let anomalous = (1500..<1506).contains(i)
            if anomalous { cpu += 45 }
            lines.append("\(1_700_000_000_000 + Int64(i) * 60_000),\(cpu),\(mem),\(anomalous ? 1 : 0)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func trainScoreInspectVerifyAndBacktest() throws {
        let dir = try TemporaryDirectory()
        try Self.config.write(toFile: dir.file("cfg.yaml"), atomically: true, encoding: .utf8)
        try Self.csv().write(toFile: dir.file("data.csv"), atomically: true, encoding: .utf8)

        let validate = try Subprocess.aeflow(["config", "validate", dir.file("cfg.yaml")])
        #expect(validate.status == 0 && validate.stdout.contains("pipeline p1 VanillaAE on cpu, mem"))

        let train = try Subprocess.aeflow(["train", "--config", dir.file("cfg.yaml"), "--input", dir.file("data.csv"),
                                           "--output", dir.file("m.safetensors"), "--store", dir.file("store"), "--key", "web:eu"])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stderr.contains("msg=\"epoch ended\"") && train.stderr.contains("msg=\"checkpoint published\""))
        #expect(FileManager.default.fileExists(atPath: dir.file("store/p1/web+eu/000001.safetensors")))
        let latest = try String(contentsOfFile: dir.file("store/p1/web+eu/LATEST"), encoding: .utf8)
        #expect(latest == "000001.safetensors\n")

        let inspect = try Subprocess.aeflow(["checkpoint", "inspect", dir.file("m.safetensors")])
        #expect(inspect.status == 0 && inspect.stdout.contains("model.encoder.encoder.1.weight F32 [16, 24]")
                && inspect.stdout.contains("metrics: cpu, mem"))
        #expect(try Subprocess.aeflow(["checkpoint", "verify", dir.file("m.safetensors")]).status == 0)

        let score = try Subprocess.aeflow(["score", "--checkpoint", dir.file("m.safetensors"), "--input", dir.file("data.csv")])
        #expect(score.status == 0, "\(score.stderr)")
        let rows = readScores(score.stdout)
        #expect(rows.count == 2000)
        #expect(rows.first!.keys.sorted() == ["cpu", "cpu_error", "cpu_expected", "cpu_score", "is_anomaly", "mem", "mem_error", "mem_expected",
                                              "mem_score", "model_version", "status", "timestamp", "unified"])
        #expect(rows[1505]["is_anomaly"] == "true" && rows[1200]["is_anomaly"] == "false")
        // The window containing all six spiked points against a calm stretch (numalogic's window mean).
        let spike = Float(rows[1505]["unified"]!)!, calm = (1100..<1300).map { Float(rows[$0]["unified"]!)! }.max()!
        #expect(spike > 2 * calm && spike > 2, "spike \(spike) vs calm maximum \(calm)")

        let bt = try Subprocess.aeflow(["backtest", "--config", dir.file("cfg.yaml"), "--input", dir.file("data.csv"),
                                        "--label-column", "label", "--output", dir.file("bt.csv"), "--report", dir.file("report.json")])
        #expect(bt.status == 0, "\(bt.stderr)")
        #expect(bt.stderr.contains("msg=progress") && bt.stderr.contains("task=backtest") && bt.stderr.contains("msg=evaluation"))
        let btRows = readScores(try String(contentsOfFile: dir.file("bt.csv"), encoding: .utf8))
        #expect(btRows.count == 2000)
        // As the daemon answers: warming_up until the window is full, model_not_ready until min_train_size rows, scored.
        #expect(btRows[0]["status"] == "warming_up" && btRows[10]["status"] == "warming_up" && btRows[11]["status"] == "model_not_ready")
        #expect(btRows[598]["status"] == "model_not_ready" && btRows[599]["status"] == "scored")
        let report = try #require(JSONValue.parse(try String(contentsOfFile: dir.file("report.json"), encoding: .utf8)).objectValue)
        #expect(report["trainings"]!.intValue! >= 2)          // first at row 600, then every 12 hours of timestamps
        let (recall, prAUC) = (report["recall"]!.doubleValue!, report["pr_auc"]!.doubleValue!)
        #expect(recall > 0.5 && prAUC > 0.2, "recall \(recall), PR AUC \(prAUC)")
    }

    /// `train`, `backtest` and `evaluate` without `--config`: the embedded default on the CSV's numeric columns.
    @Test func offlineCommandsRunTheEmbeddedDefaultOnTheCSVsColumns() throws {
        let dir = try TemporaryDirectory()
        // A text column (host) is not a metric; cpu and mem are.
        let csv = Self.csv().split(separator: "\n").enumerated().map { i, line in
            i == 0 ? "host," + line : "web-1," + line
        }.joined(separator: "\n") + "\n"
        try csv.write(toFile: dir.file("data.csv"), atomically: true, encoding: .utf8)
        let train = try Subprocess.aeflow(["train", "--input", dir.file("data.csv"), "--output", dir.file("m.safetensors")])
        #expect(train.status == 0, "\(train.stderr)")
        let inspect = try Subprocess.aeflow(["checkpoint", "inspect", dir.file("m.safetensors")])
        #expect(inspect.stdout.contains("metrics: cpu, mem") && inspect.stdout.contains("score.residualstd F32 [2]"))
        let bt = try Subprocess.aeflow(["backtest", "--input", dir.file("data.csv"), "--output", dir.file("out.csv"), "--plot", dir.file("out.png"),
                                        "--label-column", "label"])
        #expect(bt.status == 0, "\(bt.stderr)")
        let rows = readScores(try String(contentsOfFile: dir.file("out.csv"), encoding: .utf8))
        #expect(rows.count == 2000 && rows[0]["host"] == nil && rows[0]["cpu"] != nil && rows[0]["mem_expected"] != nil)
        // The default pipeline trains at 200 rows: from then on every row is scored, and the spike alarms.
        #expect(rows[198]["status"] == "model_not_ready" && rows[199]["status"] == "scored" && rows[1999]["status"] == "scored")
        #expect((1500..<1506).contains { rows[$0]["is_anomaly"] == "true" })
        let png = try Data(contentsOf: URL(fileURLWithPath: dir.file("out.png")))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count < 300_000, "PNG of \(png.count) bytes")
    }

    /// `aeflow evaluate` on a tiny hand-labelled corpus whose answers are known: the rolling z-score (window 10,
    /// threshold 5) alarms on the labelled spike (2 rows into its window) and on an unlabelled one.
    @Test func evaluateReportsKnownAnswersOnATinyCorpus() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("corpus/cat"), withIntermediateDirectories: true)
        var lines = ["timestamp,value,label"]
        for i in 0..<100 {
            let value = i == 60 ? 50.0 : i == 80 ? 40.0 : Double(1 + i % 2)
            lines.append("\(1_700_000_000 + i * 60),\(value),\((58...62).contains(i) ? 1 : 0)")
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir.file("corpus/cat/s.csv"), atomically: true, encoding: .utf8)
        let r = try Subprocess.aeflow(["evaluate", "--corpus", dir.file("corpus"), "--zscore-window", "10", "--zscore-threshold", "5",
                                       "--report", dir.file("r.json"), "--plot-dir", dir.file("plots")])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(JSONValue.parse(try String(contentsOfFile: dir.file("r.json"), encoding: .utf8)).objectValue)
        let summary = try #require(report["summary"]?.arrayValue).compactMap(\.objectValue)
        let z = try #require(summary.first { $0["detector"]?.stringValue == "zscore" && $0["category"]?.stringValue == "overall" })
        #expect(z["events"]?.intValue == 1 && z["detected"]?.intValue == 1 && z["false_alarms"]?.intValue == 1)
        #expect(z["precision"]?.doubleValue == 0.5 && z["recall"]?.doubleValue == 1 && z["median_delay_rows"]?.doubleValue == 2)
        expectClose(Float(z["f1"]!.doubleValue!), 2.0 / 3, atol: 1e-6)
        // 100 rows: the default pipeline never reaches min_train_size 200, so it never alarms (and says so).
        let a = try #require(summary.first { $0["detector"]?.stringValue == "aeflow" && $0["category"]?.stringValue == "overall" })
        #expect(a["detected"]?.intValue == 0 && a["false_alarms"]?.intValue == 0 && a["trainings"]?.intValue == 0)
        #expect(r.stdout.contains("overall") && r.stdout.contains("zscore"))
        #expect(FileManager.default.fileExists(atPath: dir.file("plots/cat__s-zscore.png")))
    }

    @Test func userErrorsAreOneLineWithTheirLocation() throws {
        let dir = try TemporaryDirectory()
        try (Self.config.replacingOccurrences(of: "std_factor: 3", with: "std_factr: 3")).write(toFile: dir.file("bad.yaml"), atomically: true, encoding: .utf8)
        let bad = try Subprocess.aeflow(["config", "validate", dir.file("bad.yaml")])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("stream_confs.demo.ml_pipelines.p1.numalogic_conf.threshold.conf.std_factr: unknown key"))
        try "timestamp,cpu\n1,2\n".write(toFile: dir.file("x.csv"), atomically: true, encoding: .utf8)
        try Data([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).write(to: URL(fileURLWithPath: dir.file("junk.safetensors")))
        let score = try Subprocess.aeflow(["score", "--checkpoint", dir.file("junk.safetensors"), "--input", dir.file("x.csv")])
        #expect(score.status == 1 && score.stderr.hasPrefix("aeflow: \(dir.file("junk.safetensors")):"))
        let verify = try Subprocess.aeflow(["checkpoint", "verify", dir.file("missing.safetensors")])
        #expect(verify.status == 1 && verify.stderr.contains("No such file"))
        let defaults = try Subprocess.aeflow(["config", "defaults"])
        let file = try String(contentsOfFile: Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("pipelines/default.yaml").path, encoding: .utf8)
        #expect(defaults.status == 0 && defaults.stdout == file)
    }

    /// AEFLOW_KERNELS_ISA is checked before a command does anything: a bad value is a one-line error, a valid
    /// one lets the command go on (here to its own error about the missing config).
    @Test func badKernelLevelIsAStartUpError() throws {
        let dir = try TemporaryDirectory()
        let args = ["train", "--config", dir.file("missing.yaml"), "--input", dir.file("x.csv"), "--output", dir.file("out.safetensors")]
        let bad = try Subprocess.run(Subprocess.aeflow, args, environment: ["AEFLOW_KERNELS_ISA": "AVX2"])
        #expect(bad.status == 1)
        #expect(bad.stderr == "aeflow: AEFLOW_KERNELS_ISA=AVX2 is not a kernel level (baseline, avx2 or avx512)\n")
        let good = try Subprocess.run(Subprocess.aeflow, args, environment: ["AEFLOW_KERNELS_ISA": "baseline"])
        #expect(good.status == 1 && good.stderr.contains("missing.yaml") && !good.stderr.contains("AEFLOW_KERNELS_ISA"))
    }
}

/// What operators need from the command line: the version, the log level and the log format.
@Suite struct OperatorOptionsTests {
    @Test func versionLogLevelAndJSONLogs() throws {
        let version = try Subprocess.aeflow(["--version"])
        #expect(version.status == 0 && version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == AEFlowVersion.current)
        let dir = try TemporaryDirectory()
        try CommandLineTests.csv().write(toFile: dir.file("data.csv"), atomically: true, encoding: .utf8)
        // JSON lines: every stderr line is one object with an RFC 3339 timestamp of now, the level, logger and message.
        let json = try Subprocess.aeflow(["train", "--input", dir.file("data.csv"), "--output", dir.file("m.safetensors"), "--log-format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let lines = json.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
        let objects = lines.compactMap { try? JSONValue.parse(String($0)).objectValue }
        #expect(!objects.isEmpty && objects.count == lines.count)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for o in objects {
            let ts = o["ts"]?.stringValue.flatMap(RFC3339.parse)
            #expect(ts.map { abs($0 - now) < 600_000 } == true, "\(o)")
            #expect(o["level"]?.stringValue != nil && o["logger"]?.stringValue != nil)
        }
        #expect(objects.contains { $0["msg"]?.stringValue == "checkpoint written" && $0["path"]?.stringValue == dir.file("m.safetensors") })
        // logfmt (the default) carries the same RFC 3339 timestamp; --log-level warning leaves the info lines out.
        let logfmt = try Subprocess.aeflow(["train", "--input", dir.file("data.csv"), "--output", dir.file("m2.safetensors")])
        let written = logfmt.stderr.split(separator: "\n").first { $0.contains("msg=\"checkpoint written\"") }
        let ts = written?.split(separator: " ").first { $0.hasPrefix("ts=") }.flatMap { RFC3339.parse(String($0.dropFirst(3))) }
        #expect(ts.map { abs($0 - now) < 600_000 } == true, "\(logfmt.stderr)")
        let quiet = try Subprocess.aeflow(["train", "--input", dir.file("data.csv"), "--output", dir.file("m3.safetensors"), "--log-level", "warning"])
        #expect(quiet.status == 0 && !quiet.stderr.contains("checkpoint written"), "\(quiet.stderr)")
        #expect(try Subprocess.aeflow(["train", "--input", dir.file("data.csv"), "--output", dir.file("m4.safetensors"), "--log-level", "loud"]).status != 0)
        #expect(try Subprocess.aeflow(["train", "--input", dir.file("data.csv"), "--output", dir.file("m5.safetensors"), "--log-format", "xml"]).status != 0)
    }
}
