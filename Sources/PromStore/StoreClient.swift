import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Stage

/// Why a request to the metrics store failed, as an outcome: every failure is one of these (and counted by it).
public enum StoreFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// No connection (refused, unreachable, reset) — the server is down or the URL wrong.
    case unreachable(String)
    /// No complete answer within the endpoint's timeout — the server is slow or stopped.
    case timeout
    /// An HTTP error status with the start of its body; 429 and 5xx are retried, other 4xx are not.
    case status(Int, String)
    /// An answer that is not what the API promises (not JSON, not `success`, wrong shape).
    case badResponse(String)
    /// The configuration cannot be used (a CA file that cannot be read, a URL that does not parse).
    case configuration(String)

    public var description: String {
        switch self {
        case .unreachable(let e): "unreachable: \(e)"
        case .timeout: "timed out"
        case .status(let code, let body): "HTTP \(code): \(body)"
        case .badResponse(let e): "bad response: \(e)"
        case .configuration(let e): "configuration: \(e)"
        }
    }

    /// The label value metrics count it by.
    public var reason: String {
        switch self {
        case .unreachable: "unreachable"
        case .timeout: "timeout"
        case .status(let code, _): code == 429 ? "throttled" : code >= 500 ? "server_error" : "client_error"
        case .badResponse: "bad_response"
        case .configuration: "configuration"
        }
    }

    public static let reasons = ["unreachable", "timeout", "throttled", "server_error", "client_error", "bad_response", "configuration"]

    /// Worth trying again: the network, a timeout, 429 or 5xx (Prometheus's remote-write rules).
    public var isRetryable: Bool {
        switch self {
        case .unreachable, .timeout: true
        case .status(let code, _): code == 429 || code >= 500
        case .badResponse, .configuration: false
        }
    }
}

/// One metrics-store endpoint over HTTP(S): credentials, TLS, the per-request timeout and retries with backoff.
/// Calls block the calling thread (the retrain stage's, the writer's); never call them on an event loop.
public final class StoreClient: Sendable {
    public let endpoint: StoreEndpoint
    let client: HTTPClient
    let authorization: String?
    /// Every request of this client runs on one event loop, its connection included. With the default (`indifferent`)
    /// a request's task and its pooled connection can sit on different loops: the connection's release then waits for a
    /// hop back from the task's loop, the response is already delivered, and a `shutdown()` right after it (as a
    /// backtest does) can close the still-leased connection in between — AsyncHTTPClient 1.37 then stops the process
    /// ("A connection that we don't know was released?"; seen once, in a `make test` run). On one loop the release runs
    /// in the same turn as the response.
    let eventLoop: any EventLoop

    public init(_ endpoint: StoreEndpoint) throws(StoreFailure) {
        self.endpoint = endpoint
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .milliseconds(Int64(min(endpoint.timeoutSeconds, 10) * 1000)),
                               read: .milliseconds(Int64(endpoint.timeoutSeconds * 1000)))
        config.redirectConfiguration = .disallow
        if endpoint.url.hasPrefix("https://") {
            var tls = TLSConfiguration.makeClientConfiguration()
            if let ca = endpoint.tls.caFile {
                do { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca)) } catch {
                    throw .configuration("tls.ca_file \(ca): \(error)")
                }
            }
            if endpoint.tls.insecureSkipVerify { tls.certificateVerification = .none }
            config.tlsConfiguration = tls
        }
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
        eventLoop = HTTPClient.defaultEventLoopGroup.next()
        switch endpoint.auth {
        case .none: authorization = nil
        case .bearer(let t): authorization = "Bearer \(t)"
        case .basic(let u, let p): authorization = "Basic " + Data("\(u):\(p)".utf8).base64EncodedString()
        }
    }

    deinit { try? client.syncShutdown() }

    /// Closes the connections (pending requests fail).
    public func shutdown() { try? client.syncShutdown() }

    public struct Answer: Sendable {
        public var status: Int
        public var body: [UInt8]
    }

    /// One attempt: the answer whatever its status, or why there is none.
    public func attempt(_ method: HTTPMethod, _ pathAndQuery: String, headers: [(String, String)] = [], body: [UInt8]? = nil) -> Result<Answer, StoreFailure> {
        let request: HTTPClient.Request
        do {
            var h = HTTPHeaders(headers)
            if let authorization { h.add(name: "Authorization", value: authorization) }
            h.add(name: "User-Agent", value: "aeflow/\(AEFlowVersion.current)")
            request = try HTTPClient.Request(url: endpoint.url + pathAndQuery, method: method, headers: h, body: body.map { .bytes($0) })
        } catch {
            return .failure(.configuration("\(endpoint.url + pathAndQuery): \(error)"))
        }
        let deadline = NIODeadline.now() + .milliseconds(Int64(endpoint.timeoutSeconds * 1000))
        do {
            let response = try client.execute(request: request, eventLoop: .delegateAndChannel(on: eventLoop), deadline: deadline).wait()
            var bytes: [UInt8] = []
            if var b = response.body { bytes = b.readBytes(length: b.readableBytes) ?? [] }
            return .success(Answer(status: Int(response.status.code), body: bytes))
        } catch let e as HTTPClientError where e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout {
            return .failure(.timeout)
        } catch {
            return .failure(.unreachable("\(error)"))
        }
    }

    /// Sends until an answer with a 2xx status, a failure that is not retryable, the endpoint's retries are spent or
    /// `shouldStop` says so; `onRetry` hears every failure that is retried (to count it).
    public func send(_ method: HTTPMethod, _ pathAndQuery: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                     shouldStop: () -> Bool = { false }, onRetry: (StoreFailure) -> Void = { _ in }) -> Result<Answer, StoreFailure> {
        var attempt = 0
        while true {
            let outcome = self.attempt(method, pathAndQuery, headers: headers, body: body).flatMap { a -> Result<Answer, StoreFailure> in
                (200..<300).contains(a.status) ? .success(a) : .failure(.status(a.status, String(decoding: a.body.prefix(300), as: UTF8.self)))
            }
            guard case .failure(let failure) = outcome, failure.isRetryable, attempt < endpoint.retries, !shouldStop() else { return outcome }
            attempt += 1
            onRetry(failure)
            Thread.sleep(forTimeInterval: endpoint.backoff(attempt: attempt))
        }
    }
}
