import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Stage
import TensorCore

/// The retrain stage's HTTP endpoints. As its own process: `GET /healthz`, `GET /readyz`, `GET /metrics`
/// and the admin routes; inside the daemon (`serve --with-retrain`) only the admin routes are added to
/// the daemon's router (its `/metrics` already carries the retrain metrics):
/// `POST /v1/retrain` `{"pipeline_id": "default", "key": ["web"] | "web"}` — train now, whatever the
/// model's age (202); `GET /v1/retrain?pipeline_id=…&key=a:b` — the model's training state.
public enum RetrainHTTP {
    public static func router(stage: RetrainStage, token: String?) -> Router<BasicRequestContext> {
        let router = Router()
        for method in [HTTPRequest.Method.get, .head] {
            router.on("healthz", method: method) { _, _ in text("ok\n") }
            router.on("readyz", method: method) { _, _ in stage.isReady ? text("ready\n") : text("not ready\n", status: .serviceUnavailable) }
            router.on("metrics", method: method) { request, _ in
                guard authorized(request, token) else { return text("unauthorized\n", status: .unauthorized) }
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                                body: ResponseBody(byteBuffer: ByteBuffer(bytes: stage.metrics.exposition())))
            }
        }
        addAdminRoutes(to: router, stage: stage, token: token)
        return router
    }

    static func authorized(_ request: Request, _ token: String?) -> Bool {
        guard let token else { return true }
        return request.headers[.authorization] == "Bearer \(token)"
    }

    public static func addAdminRoutes(to router: Router<BasicRequestContext>, stage: RetrainStage, token: String?) {
        router.post("v1/retrain") { request, _ in
            guard authorized(request, token) else { return text("unauthorized\n", status: .unauthorized) }
            var req = request
            guard let body = try? await req.collectBody(upTo: 65_536) else { return error("too_large", "body over 64 KiB", .contentTooLarge) }
            guard case .object(let o)? = try? JSONValue.parse(String(decoding: body.readableBytesView, as: UTF8.self)) else {
                return error("bad_json", "expected {\"pipeline_id\": …, \"key\": [...]}", .badRequest)
            }
            let ref: ModelID
            switch parse(pipeline: o["pipeline_id"]?.stringValue, key: o["key"], stage: stage) {
            case .success(let r): ref = r
            case .failure(let e): return e.response
            }
            stage.retrainNow(ref)
            return json(.object(JSONObject([("queued", .bool(true)), ("pipeline_id", .string(ref.pipelineID)),
                                            ("key", .array(ref.key.map { .string($0) }))])), status: .accepted)
        }
        router.get("v1/retrain") { request, _ in
            guard authorized(request, token) else { return text("unauthorized\n", status: .unauthorized) }
            let q = request.uri.queryParameters
            let keyText = q["key"].map(String.init)
            let ref: ModelID
            switch parse(pipeline: q["pipeline_id"].map(String.init), key: keyText.map { JSONValue.string($0) }, stage: stage, splitColon: true) {
            case .success(let r): ref = r
            case .failure(let e): return e.response
            }
            guard let s = try? stage.history.state(ref) else { return error("not_found", "no training state for \(ref)", .notFound) }
            func num(_ d: Double?) -> JSONValue { d.map { .double($0) } ?? .null }
            return json(.object(JSONObject([
                ("pipeline_id", .string(ref.pipelineID)), ("key", .array(ref.key.map { .string($0) })),
                ("requested_at", num(s.requestedAt)), ("read_ts", num(s.readTs)), ("train_ts", num(s.trainTs)),
                ("running_since", num(s.runningSince)), ("train_records", s.trainRecords.map { .int(Int64($0)) } ?? .null),
                ("last_outcome", s.lastOutcome.map { .string($0) } ?? .null), ("last_detail", s.lastDetail.map { .string($0) } ?? .null),
                ("last_version", s.lastVersion.map { .int(Int64($0)) } ?? .null), ("trainings", .int(Int64(s.trainings))),
                ("failures", .int(Int64(s.failures))),
            ])))
        }
    }

    /// The model a request names: a configured pipeline and, for a per-key model, a key with the stream's
    /// number of values (a model shared by the pipeline takes no key).
    static func parse(pipeline: String?, key: JSONValue?, stage: RetrainStage, splitColon: Bool = false) -> Result<ModelID, HTTPFailure> {
        let pid = pipeline ?? "default"
        guard let target = stage.pipelines[pid] else { return .failure(HTTPFailure(error("unknown_pipeline", "no pipeline \"\(pid)\"", .notFound))) }
        if target.pipeline.modelScope == .pipeline { return .success(ModelID(pipelineID: pid, key: [])) }
        var values: [String]
        switch key {
        case .string(let s)?: values = splitColon ? s.split(separator: ":", omittingEmptySubsequences: false).map(String.init) : [s]
        case .array(let a)?:
            values = a.compactMap(\.stringValue)
            guard values.count == a.count else { return .failure(HTTPFailure(error("invalid_key", "key values must be strings", .badRequest))) }
        default: return .failure(HTTPFailure(error("invalid_key", "a key is required for a per-key model", .badRequest)))
        }
        let n = target.stream.compositeKeys.count
        guard !values.isEmpty, n == 0 || values.count == n else {
            return .failure(HTTPFailure(error("invalid_key", "the stream's keys are [\(target.stream.compositeKeys.joined(separator: ", "))]", .badRequest)))
        }
        return .success(ModelID(pipelineID: pid, key: values))
    }

    struct HTTPFailure: Error { let response: Response; init(_ r: Response) { response = r } }

    static func text(_ s: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: s)))
    }

    static func json(_ v: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: v.serialized())))
    }

    static func error(_ reason: String, _ detail: String, _ status: HTTPResponse.Status) -> Response {
        json(.object(JSONObject([("error", .string(reason)), ("detail", .string(detail))])), status: status)
    }
}
