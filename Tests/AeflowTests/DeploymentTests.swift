import Foundation
import PromStore
import Retrain
import Stage
import Testing
import TestSupport
import TensorCore

/// The repository's root (two levels above Tests/Fixtures).
let repositoryRoot = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent().path

func read(_ relative: String) throws -> String { try String(contentsOfFile: "\(repositoryRoot)/\(relative)", encoding: .utf8) }

/// The Dockerfile, read the way `docker build` would: stages, and per stage the instructions.
struct Dockerfile {
    struct Stage { var from: String; var instructions: [(String, String)] }
    var stages: [Stage] = []

    init(_ text: String) {
        var logical: [String] = []
        var current = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if current.isEmpty && (line.isEmpty || line.hasPrefix("#")) { continue }
            if line.hasSuffix("\\") { current += line.dropLast() + " "; continue }
            logical.append(current + line)
            current = ""
        }
        for l in logical {
            let parts = l.split(separator: " ", maxSplits: 1).map(String.init)
            let (op, arg) = (parts[0].uppercased(), parts.count > 1 ? parts[1] : "")
            if op == "FROM" { stages.append(Stage(from: arg, instructions: [])) } else if !stages.isEmpty { stages[stages.count - 1].instructions.append((op, arg)) }
        }
    }

    var runtime: Stage { stages.last! }
    func all(_ op: String) -> [String] { runtime.instructions.filter { $0.0 == op }.map(\.1) }

    /// Packages the runtime stage installs with apt-get.
    var aptPackages: Set<String> {
        var out: Set<String> = []
        for run in all("RUN") {
            for command in run.components(separatedBy: "&&") where command.contains("apt-get install") {
                for word in command.split(separator: " ") where !word.hasPrefix("-") && !["apt-get", "install"].contains(word) {
                    out.insert(String(word))
                }
            }
        }
        return out
    }

    /// An exec-form instruction (`["a", "b"]`) as its words.
    func execForm(_ op: String) -> [String]? {
        guard let arg = all(op).last, case .array(let a)? = try? JSONValue.parse(arg) else { return nil }
        return a.compactMap(\.stringValue)
    }
}

@Suite struct DeploymentTests {
    @Test func everyPipelineExampleValidatesAndTheNumaflowManifestRunsTheUDF() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(repositoryRoot)/pipelines").filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(Set(files).isSuperset(of: ["default.yaml", "multivariate.yaml", "per-key.yaml", "shared-model.yaml", "numalogic-config.yaml",
                                           "numaflow-pipeline.yaml", "numaflow-monovertex.yaml", "container.yaml"]))
        for f in files where !f.hasPrefix("numaflow-") {
            let r = try Subprocess.aeflow(["config", "validate", "\(repositoryRoot)/pipelines/\(f)"])
            #expect(r.status == 0 && r.stdout.hasPrefix("ok "), "\(f): \(r.stderr)")
        }
        // The numalogic config loads unchanged; its registry sections are reported as ignored, and its Prometheus source
        // is where its history comes from (numalogic's trainer reads it there too).
        let numalogic = try Subprocess.aeflow(["config", "validate", "\(repositoryRoot)/pipelines/numalogic-config.yaml"])
        #expect(numalogic.stdout.contains("ignored numalogic sections: redis_conf, registry_conf\n"))
        #expect(numalogic.stdout.contains("history from http://prometheus-server.monitoring.svc:9090: namespace_app_http_server_requests_errors=namespace_app_http_server_requests_errors"))
        let shared = try Subprocess.aeflow(["config", "validate", "\(repositoryRoot)/pipelines/shared-model.yaml"])
        #expect(shared.stdout.contains("score mode adaptive"))
        // The Numaflow manifest: a Pipeline whose map vertex runs `aeflow udf` with a config that validates.
        let manifest = try read("pipelines/numaflow-pipeline.yaml")
        #expect(manifest.contains("kind: Pipeline") && manifest.contains("apiVersion: numaflow.numaproj.io/v1alpha1"))
        #expect(manifest.contains(#"args: ["udf", "--config", "/etc/aeflow/aeflow.yaml"]"#))
        #expect(manifest.contains(#"args: ["retrain", "--config", "/etc/aeflow/aeflow.yaml"]"#), "the retrain stage as a sidecar")
        #expect(manifest.contains(#"values: ["output"]"#) && manifest.contains(#"values: ["dead_letter"]"#))
        let dir = try TemporaryDirectory()
        let embedded = manifest.components(separatedBy: "aeflow.yaml: |\n")[1].components(separatedBy: "\n---")[0]
            .split(separator: "\n").map { String($0.dropFirst(4)) }.joined(separator: "\n")
        try embedded.write(toFile: dir.file("udf.yaml"), atomically: true, encoding: .utf8)
        // Per-replica paths: the pod's name (HOSTNAME in Kubernetes) is expanded when the configuration is read.
        let udf = try Subprocess.run(Subprocess.aeflow, ["config", "validate", dir.file("udf.yaml")], environment: ["HOSTNAME": "aeflow-anomaly-score-1"])
        #expect(udf.status == 0, "the Numaflow manifest's config: \(udf.stderr)")
        // Scaled out by key: ordered processing, a partitioned score vertex without autoscaling, and the source's
        // transformer keying every point by its composite key.
        #expect(manifest.contains("ordered:\n    enabled: true") && manifest.contains("partitions: 3") && !manifest.contains("scale: {"))
        #expect(manifest.contains(#"args: ["transform", "--config", "/etc/aeflow/aeflow.yaml""#))
        #expect(embedded.contains("/var/lib/aeflow/${HOSTNAME}/models") && embedded.contains("/var/lib/aeflow/${HOSTNAME}/history.sqlite"))
        // The MonoVertex: source with the transformer, the UDF, one sink, one replica; its configuration validates.
        let mono = try read("pipelines/numaflow-monovertex.yaml")
        #expect(mono.contains("kind: MonoVertex") && mono.contains("scale: {min: 1, max: 1}"))
        #expect(mono.contains(#"args: ["transform", "--config", "/etc/aeflow/aeflow.yaml""#) && mono.contains(#"args: ["udf", "--config", "/etc/aeflow/aeflow.yaml"]"#))
        let monoConfig = mono.components(separatedBy: "aeflow.yaml: |\n")[1].components(separatedBy: "\n---")[0]
            .split(separator: "\n").map { String($0.dropFirst(4)) }.joined(separator: "\n")
        try monoConfig.write(toFile: dir.file("mono.yaml"), atomically: true, encoding: .utf8)
        let monoCheck = try Subprocess.aeflow(["config", "validate", dir.file("mono.yaml")])
        #expect(monoCheck.status == 0, "the MonoVertex manifest's config: \(monoCheck.stderr)")
    }

    /// The Numaflow manifests against Numaflow's own CRD schemas (vendored, strict about unknown fields) and
    /// their ConfigMaps against Kubernetes 1.30's; a misspelled field and a wrong type are caught.
    @Test func theNumaflowManifestsValidateAgainstNumaflowsCRDs() throws {
        guard TestPython.isAvailable else { Issue.record("no test Python at \(TestPython.path); run `make test-deps`"); return }
        let schemas = "\(repositoryRoot)/Tests/Fixtures/numaflow/crd-schemas.json.gz"
        let manifests = ["pipelines/numaflow-pipeline.yaml", "pipelines/numaflow-monovertex.yaml"].map { "\(repositoryRoot)/\($0)" }
        let dir = try TemporaryDirectory()
        let broken = try read("pipelines/numaflow-pipeline.yaml").replacingOccurrences(of: "partitions: 3", with: "partitionz: 3")
            .replacingOccurrences(of: "readBatchSize: 1 ", with: "readBatchSize: \"one\" ")
        try broken.write(toFile: dir.file("broken.yaml"), atomically: true, encoding: .utf8)
        let r = try Subprocess.run(TestPython.path, [TestPython.script("check_numaflow.py"), schemas] + manifests + [dir.file("broken.yaml")])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(try JSONValue.parse(r.stdout).objectValue)
        let files = try #require(report["files"]?.objectValue), kinds = try #require(report["kinds"]?.objectValue)
        for m in manifests { #expect(files[m] == .array([]), "\(m): \(files[m] ?? .null)") }
        #expect(kinds[manifests[0]] == .array([.string("ConfigMap"), .string("Pipeline")]))
        #expect(kinds[manifests[1]] == .array([.string("ConfigMap"), .string("MonoVertex")]))
        let problems = files[dir.file("broken.yaml")]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(problems.contains { $0.contains("partitionz") } && problems.contains { $0.contains("readBatchSize") }, "\(problems)")
    }

    @Test func theReadmesConfigurationReferenceIsTheEmbeddedDefault() throws {
        let defaults = try Subprocess.aeflow(["config", "defaults"])
        #expect(defaults.status == 0)
        let readme = try read("README.md")
        #expect(readme.contains("```yaml\n" + defaults.stdout + "```"), "README's configuration reference differs from `aeflow config defaults`")
    }

    /// Helm's own engine lints and renders the chart for default and non-default values; every manifest
    /// passes the Kubernetes schemas; bad values are refused by values.schema.json; the rendered AEFlow
    /// configs validate.
    @Test func theChartLintsRendersAndValidates() throws {
        guard TestPython.isAvailable else { Issue.record("no test Python at \(TestPython.path); run `make test-deps`"); return }
        let dir = try TemporaryDirectory()
        let r = try Subprocess.run(TestPython.path, [TestPython.script("check_chart.py"), "\(repositoryRoot)/helm/aeflow", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(try JSONValue.parse(r.stdout).objectValue)
        let cases = try #require(report["cases"]?.objectValue)
        #expect(Set(cases.keys) == ["default", "production", "scoring-only"])
        for (name, value) in cases.sorted(by: { $0.key < $1.key }) {
            let c = try #require(value.objectValue)
            #expect(c["lint"] == .array([]), "\(name): lint \(c["lint"]!)")
            #expect(c["invalid"] == .array([]), "\(name): \(c["invalid"]!)")
            #expect(c["notes"] == .bool(true))
            // The chart's key files live on the cluster: validate everything but their presence here. The token comes
            // from the environment (the Secret) when auth is set.
            let v = try Subprocess.run(Subprocess.aeflow, ["config", "validate", "--no-file-checks", dir.file("\(name).yaml")],
                                       environment: ["AEFLOW_BEARER_TOKEN": "test-token"])
            #expect(v.status == 0, "\(name)'s rendered config: \(v.stderr)")
        }
        let kinds = { (n: String) in cases[n]?.objectValue?["kinds"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        #expect(kinds("default") == ["ConfigMap", "Deployment", "Service", "Service"])
        #expect(kinds("production") == ["ConfigMap", "ConfigMap", "PodDisruptionBudget", "PrometheusRule", "Service", "Service", "ServiceMonitor", "StatefulSet"])
        #expect(kinds("scoring-only") == ["ConfigMap", "Deployment", "Service", "Service"], "an existing claim: no new claims")
        // Three replicas with persistence: a StatefulSet with a claim per pod behind the headless Service (ZeroMQ
        // clients address pods), a disruption budget of one, a start-up probe, the token from its Secret.
        let prod = try #require(cases["production"]?.objectValue?["facts"]?.objectValue)
        #expect(prod["workload"] == .string("StatefulSet") && prod["replicas"]?.intValue == 3 && prod["claimTemplates"] == .array([.string("data")]))
        #expect(prod["serviceName"] != nil && prod["serviceName"] == prod["headlessName"])
        #expect(prod["headlessPorts"] == .array([.string("zmq-in"), .string("zmq-scores")]))
        #expect(prod["servicePorts"]?.objectValue?.keys.sorted() == ["http", "retrain-http"], "no ZeroMQ behind a balanced IP with 3 pods")
        let single = try #require(cases["default"]?.objectValue?["facts"]?.objectValue)
        #expect(single["servicePorts"]?.objectValue?.keys.sorted() == ["http", "retrain-http", "zmq-in", "zmq-scores"])
        #expect(prod["pdb"]?.objectValue?["maxUnavailable"]?.intValue == 1)
        #expect(prod["startup"]?.objectValue?["aeflow"] == .string("/healthz"))
        for c in ["aeflow", "retrain"] { #expect(prod["env"]?.objectValue?[c] == .array([.string("AEFLOW_BEARER_TOKEN")]), "\(c)") }
        #expect(prod["monitorAuth"]?.objectValue?["credentials"]?.objectValue?["name"] == .string("aeflow-token"))
        #expect(prod["alerts"] == .array(["AEFlowNoScores", "AEFlowRejectSpike", "AEFlowRetrainFailures", "AEFlowStaleModels",
                                          "AEFlowRemoteWriteDropping"].map { .string($0) }))
        #expect(prod["dashboardPanels"]?.arrayValue?.count == 12 && prod["dashboardLabels"]?.objectValue?["grafana_dashboard"] == .string("1"))
        #expect(prod["dashboardPanels"]?.arrayValue?.contains(.string("Anomaly score next to the source metric (remote write)")) == true)
        let prodConfig = try String(contentsOfFile: dir.file("production.yaml"), encoding: .utf8)
        #expect(prodConfig.contains("bearer_token: ${AEFLOW_BEARER_TOKEN}"), "the token is not in the ConfigMap")
        // Every metric the alerts and the dashboard query is one the daemon or the retrain stage exports, or a series
        // the daemon writes back to the metrics store.
        let scoring = ScoringMetrics()
        scoring.answered(.scored, anomalyOf: "p")           // the per-pipeline anomaly counter exists from the first anomaly
        _ = StoreMetrics(registry: scoring.registry)
        let exported = String(decoding: scoring.exposition() + RetrainMetrics().exposition(), as: UTF8.self)
        let names = Set(exported.split(separator: "\n").compactMap { $0.hasPrefix("#") ? nil : $0.split(whereSeparator: { $0 == "{" || $0 == " " }).first.map(String.init) })
            .union([RemoteWriter.scoreName, RemoteWriter.metricScoreName, RemoteWriter.anomalyName])
        let queries = prod["metrics"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(queries.count >= 12)
        for q in queries {
            for m in q.matches(of: /aeflow_[a-z_]+/).map({ String($0.output) }) { #expect(names.contains(m), "\(m) in \(q)") }
        }
        let scoringOnly = try #require(cases["scoring-only"]?.objectValue?["facts"]?.objectValue)
        #expect(scoringOnly["containers"]?.objectValue?.keys.sorted() == ["aeflow"], "no sidecar with retrain disabled")
        #expect(scoringOnly["strategy"] == .string("Recreate"))
        #expect(try String(contentsOfFile: dir.file("scoring-only.yaml"), encoding: .utf8).contains("history: null"))
        let refused = try #require(report["refused"]?.objectValue)
        #expect(refused.count == 7)
        #expect(refused["two replicas on one ReadWriteOnce volume"]?.stringValue?.contains("schema") == true)
        // CURVE from Secrets: the production rendering's config points at the mounted key files.
        let production = try String(contentsOfFile: dir.file("production.yaml"), encoding: .utf8)
        #expect(production.contains("secret_key_file: /etc/aeflow/curve/aeflow.key_secret") && production.contains("- /etc/aeflow/clients"))
        let prodFacts = try #require(cases["production"]?.objectValue?["facts"]?.objectValue?["containers"]?.objectValue)
        for name in ["aeflow", "retrain"] {
            #expect(prodFacts[name]?.objectValue?["mounts"]?.arrayValue?.contains(.string("/etc/aeflow/curve")) == true, "\(name) mounts the keys")
        }
        for (what, message) in refused where what != "no image repository" {
            #expect(message.stringValue?.contains("schema") == true, "\(what) was accepted")
        }
        // No image of its own: an install that does not name one is refused with the reason.
        #expect(refused["no image repository"]?.stringValue?.contains("image.repository is required") == true, "\(refused["no image repository"]!)")
    }

    /// Without a Docker engine: every library the built binary links is provided by the runtime stage
    /// (its apt packages and their dependencies, or the Swift runtime copied from the build stage).
    @Test func theRuntimeStageProvidesEveryLibraryTheBinaryLinks() throws {
        let docker = Dockerfile(try read("Dockerfile"))
        #expect(docker.stages.count == 2 && docker.stages[0].from.hasPrefix("swift:") && docker.runtime.from == "debian:bookworm-slim")
        let packages = docker.aptPackages
        #expect(packages.isSuperset(of: ["libopenblas0-pthread", "libzmq5", "libsqlite3-0"]))
        #expect(!packages.contains { $0.hasSuffix("-dev") }, "no -dev packages at run time: \(packages)")
        #expect(docker.all("COPY").contains { $0.hasPrefix("--from=build /usr/lib/swift/linux/") }, "the Swift runtime is copied")
        let closure = try Self.dependencyClosure(packages)
        let ldd = try Subprocess.run("/usr/bin/ldd", [Subprocess.aeflow])
        #expect(ldd.status == 0)
        var checked = 0
        for line in ldd.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard let arrow = parts.firstIndex(of: "=>"), arrow + 1 < parts.count else { continue }
            let path = String(parts[arrow + 1])
            guard path.hasPrefix("/") else { Issue.record("unresolved library: \(line)"); continue }
            checked += 1
            if path.contains("/lib/swift/linux/") { continue }         // the Swift runtime, copied from the build stage
            let owner = try #require(try Self.owningPackage(path), "no Debian package owns \(path)")
            #expect(closure.contains(owner), "\(path) comes from \(owner), which the runtime stage does not install")
        }
        #expect(checked >= 10)
    }

    /// The image's entrypoint, user, ports and health check agree with the chart's containers.
    @Test func theImageAndTheChartAgree() throws {
        guard TestPython.isAvailable else { Issue.record("no test Python at \(TestPython.path); run `make test-deps`"); return }
        let docker = Dockerfile(try read("Dockerfile"))
        let entrypoint = try #require(docker.execForm("ENTRYPOINT"))
        #expect(entrypoint == ["/usr/local/bin/aeflow"], "the entrypoint is aeflow; the subcommand is the first argument")
        #expect(docker.execForm("CMD") == ["serve", "--config", "/etc/aeflow/aeflow.yaml"])
        #expect(docker.all("USER") == ["10001:10001"])
        let exposed = Set(docker.all("EXPOSE").flatMap { $0.split(separator: " ").compactMap { Int($0) } })
        #expect(docker.all("VOLUME").first?.contains("/var/lib/aeflow") == true)
        let health = try #require(docker.all("HEALTHCHECK").first)
        #expect(health.contains(#"["/usr/local/bin/aeflow", "health"]"#))
        #expect(docker.all("ENV").contains("AEFLOW_HTTP_PORT=8490"), "the health check's port comes from the environment")
        // Dependencies are resolved from the manifest alone, before the sources are copied (a layer kept across source changes).
        let build = docker.stages.first?.instructions.map { "\($0.0) \($0.1)" } ?? []
        let resolve = build.firstIndex { $0.contains("swift package resolve") }, sources = build.firstIndex { $0 == "COPY . ." }
        #expect(resolve != nil && sources != nil && resolve! < sources!, "\(build)")

        let dir = try TemporaryDirectory()
        let r = try Subprocess.run(TestPython.path, [TestPython.script("check_chart.py"), "\(repositoryRoot)/helm/aeflow", dir.path])
        let facts = try #require(try JSONValue.parse(r.stdout).objectValue?["cases"]?.objectValue?["default"]?.objectValue?["facts"]?.objectValue)
        let containers = try #require(facts["containers"]?.objectValue)
        let daemon = try #require(containers["aeflow"]?.objectValue), retrain = try #require(containers["retrain"]?.objectValue)
        #expect(daemon["command"] == .null, "the daemon container runs the image's entrypoint")
        #expect(daemon["args"] == .array(docker.execForm("CMD")!.map { .string($0) }))
        #expect(retrain["command"] == .null && retrain["args"]?.arrayValue?.first == .string("retrain"))
        let pod = try #require(facts["podSecurityContext"]?.objectValue)
        #expect(pod["runAsUser"]?.intValue == 10001 && pod["runAsGroup"]?.intValue == 10001 && pod["runAsNonRoot"] == .bool(true))
        var chartPorts: Set<Int> = []
        for c in [daemon, retrain] {
            guard let ports = c["ports"]?.objectValue else { continue }
            for k in ports.keys { if let p = ports[k]?.intValue { chartPorts.insert(Int(p)) } }
        }
        #expect(chartPorts == exposed, "chart ports \(chartPorts.sorted()) vs EXPOSE \(exposed.sorted())")
        #expect(daemon["liveness"] == .string("/healthz") && daemon["readiness"] == .string("/readyz"))
        #expect(daemon["readOnlyRootFilesystem"] == .bool(true))
        // Everything the image writes (WORKDIR, the volume) is a mount in the chart.
        #expect(docker.all("WORKDIR") == ["/var/lib/aeflow"])
        #expect(daemon["mounts"]?.arrayValue?.contains(.string("/var/lib/aeflow")) == true)
        // The image's own config serves on the ports it exposes.
        let baked = try read("pipelines/container.yaml")
        for p in [5555, 5556, 8490, 8491] { #expect(baked.contains(":\(p)") || baked.contains("port: \(p)")) }
    }

    /// Installed Debian packages reachable from `roots` through Depends/Pre-Depends.
    static func dependencyClosure(_ roots: Set<String>) throws -> Set<String> {
        var seen: Set<String> = []
        var queue = Array(roots)
        while let p = queue.popLast() {
            guard seen.insert(p).inserted else { continue }
            let r = try Subprocess.run("/usr/bin/dpkg-query", ["-W", "-f", "${Depends},${Pre-Depends}", p])
            guard r.status == 0 else { continue }       // not installed here (tzdata, say): nothing to follow
            for dep in r.stdout.split(separator: ",") {
                for alternative in dep.split(separator: "|") {
                    let name = alternative.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
                    let bare = name.split(separator: ":").first.map(String.init) ?? name
                    if !bare.isEmpty { queue.append(bare) }
                }
            }
        }
        return seen
    }

    /// The installed package that owns a library file (following symlinks such as alternatives; trying the
    /// /usr-merged twin path too).
    static func owningPackage(_ path: String) throws -> String? {
        let real = (path as NSString).resolvingSymlinksInPath
        var candidates = [path, real]
        for p in [path, real] {
            if p.hasPrefix("/usr/") { candidates.append(String(p.dropFirst(4))) } else { candidates.append("/usr" + p) }
        }
        for c in candidates {
            let r = try Subprocess.run("/usr/bin/dpkg", ["-S", c])
            if r.status == 0, let first = r.stdout.split(separator: "\n").first, let colon = first.firstIndex(of: ":") {
                return String(first[..<colon])
            }
        }
        return nil
    }
}
