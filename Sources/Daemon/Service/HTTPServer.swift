import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Stage
import ServiceLifecycle
import SystemCalls
import TensorCore

/// The daemon's HTTP endpoints (Hummingbird):
/// `GET /healthz` (the process is alive), `GET /readyz` (sockets bound, accepting),
/// `GET /metrics` (Prometheus), `GET /v1/models` (models, versions, ages), `POST /v1/score`
/// (request/response scoring of a point, an array of points or a window payload).
/// With `http.bearer_token` set, everything but the health endpoints needs `Authorization: Bearer <token>`.
public enum HTTPServer {
    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func text(_ s: String, status: HTTPResponse.Status = .ok, type: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(string: s)))
    }

    public static func router(runtime: DaemonRuntime) -> Router<BasicRequestContext> {
        let router = Router()
        let token = runtime.config.http.bearerToken
        @Sendable func authorized(_ request: Request) -> Bool { HTTPServer.authorized(request, token: token) }
        let unauthorized = text("unauthorized\n", status: .unauthorized)
        addProbes(to: router, isReady: { runtime.isReady }, token: token) {
            runtime.metrics.exposition() + (runtime.link?.metricsExposition() ?? [])
        }
        router.get("v1/models") { request, _ in
            guard authorized(request) else { return unauthorized }
            let now = Date().timeIntervalSince1970
            let items: [JSONValue] = runtime.modelListing.map { l in
                .object(JSONObject([
                    ("pipeline_id", .string(l.id.pipelineID)), ("key", .array(l.id.key.map { .string($0) })),
                    ("status", .string(l.status)), ("version", l.version.map { .int(Int64($0)) } ?? .null),
                    ("age_seconds", l.loadedAt.map { .double((now - $0).rounded()) } ?? .null), ("path", l.path.map { .string($0) } ?? .null),
                ]))
            }
            return json(Array(JSONValue.object(JSONObject([("models", .array(items))])).serialized().utf8))
        }
        router.post("v1/score") { request, _ in
            guard authorized(request) else { return unauthorized }
            // Starting or draining: the scoring workers may be gone before the request would reach them.
            guard runtime.isReady else { return json(errorBody("unavailable", "the daemon is starting or stopping"), status: .serviceUnavailable) }
            var req = request
            let limit = runtime.config.windows.maxMessageBytes
            let body: ByteBuffer
            do { body = try await req.collectBody(upTo: limit) } catch {
                return json(errorBody(RejectReason.tooLarge.rawValue, "body over \(limit) bytes"), status: .contentTooLarge)
            }
            // `?update=true`, or `"update": true` in a point or window object: the points also update their keys' live
            // windows; otherwise scoring leaves the live state untouched.
            var bytes = Array(body.readableBytesView)
            var update = request.uri.queryParameters.get("update") == "true"
            if case .object(var o)? = try? JSONValue.parse(bytes), let flag = o["update"] {
                guard let b = flag.boolValue else {
                    return json(errorBody(RejectReason.wrongType.rawValue, "update must be true or false"), status: .badRequest)
                }
                update = update || b
                o["update"] = nil
                bytes = Array(JSONValue.object(o).serialized().utf8)
            }
            let arrival = MonotonicClock.now()
            let message = runtime.ingest(bytes, arrival: arrival)
            if case .rejected(let r) = message {
                runtime.metrics.rejected(r.reason)
                return json(errorBody(r.reason.rawValue, r.detail), status: .badRequest)
            }
            let result = await withCheckedContinuation { (c: CheckedContinuation<Result<[[UInt8]], Rejection>, Never>) in
                runtime.submit(message, arrival: arrival, update: update) { c.resume(returning: $0) }
            }
            switch result {
            case .success(let outputs):
                var bytes: [UInt8] = [0x5B]
                for (i, o) in outputs.enumerated() { if i > 0 { bytes.append(0x2C) }; bytes += o }
                bytes.append(0x5D)
                return json(bytes)
            case .failure(let r):
                return json(errorBody(r.reason.rawValue, r.detail), status: .badRequest)
            }
        }
        return router
    }

    /// Whether `request` carries the bearer token (always, when none is configured).
    static func authorized(_ request: Request, token: String?) -> Bool {
        guard let token else { return true }
        return request.headers[.authorization] == "Bearer \(token)"
    }

    /// `GET`/`HEAD /healthz`, `/readyz` and `/metrics` (behind the bearer token when one is set).
    static func addProbes(to router: Router<BasicRequestContext>, isReady: @escaping @Sendable () -> Bool, token: String?,
                          metrics: @escaping @Sendable () -> [UInt8]) {
        let unauthorized = text("unauthorized\n", status: .unauthorized)
        // GET, and HEAD with the same status and headers (probes and scrapers that check before reading).
        for method in [HTTPRequest.Method.get, .head] {
            router.on("healthz", method: method) { _, _ in text("ok\n") }
            router.on("readyz", method: method) { _, _ in isReady() ? text("ready\n") : text("not ready\n", status: .serviceUnavailable) }
            router.on("metrics", method: method) { request, _ in
                guard authorized(request, token: token) else { return unauthorized }
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics())))
            }
        }
    }

    /// The health and metrics endpoints alone, for a stage without the daemon's admin routes (`aeflow udf`).
    public static func probeRouter(isReady: @escaping @Sendable () -> Bool, token: String?, metrics: @escaping @Sendable () -> [UInt8]) -> Router<BasicRequestContext> {
        let router = Router()
        addProbes(to: router, isReady: isReady, token: token, metrics: metrics)
        return router
    }

    static func errorBody(_ reason: String, _ detail: String) -> [UInt8] {
        Array(JSONValue.object(JSONObject([("error", .string(reason)), ("detail", .string(detail))])).serialized().utf8)
    }
}

