import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Blocking HTTP to a process under test on this machine, and reading its Prometheus text.
public enum LocalHTTP {
    /// One request to `http://127.0.0.1:<port><path>`: the status code and the body.
    public static func request(port: Int, _ method: String, _ path: String, body: String? = nil, bearer: String? = nil) throws -> (Int, String) {
        var req = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        req.httpMethod = method
        if let bearer { req.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
        if let body { req.httpBody = Data(body.utf8) }
        final class Box: @unchecked Sendable { var result: Result<(Int, String), Error>? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: req) { data, response, error in
            if let error { box.result = .failure(error) } else {
                box.result = .success(((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self)))
            }
            done.signal()
        }.resume()
        done.wait()
        return try box.result!.get()
    }

    /// The value of the sample `name` (with its labels, if any, as written) in Prometheus text; 0 when absent.
    public static func sample(_ name: String, in text: String) -> Double {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last!) } ?? 0
    }

    /// `sample(name)` from the `/metrics` of the process listening on `port`.
    public static func metric(port: Int, _ name: String) throws -> Double {
        sample(name, in: try request(port: port, "GET", "/metrics").1)
    }

    /// For counters fed by asynchronous events (socket monitor reports): reads `name` until it reaches
    /// `atLeast` or `within` seconds pass, and returns the last value read.
    public static func metric(port: Int, _ name: String, reaching atLeast: Double, within: Double) throws -> Double {
        let deadline = Date().addingTimeInterval(within)
        var value = try metric(port: port, name)
        while value < atLeast, Date() < deadline {
            _ = DispatchSemaphore(value: 0).wait(timeout: .now() + .milliseconds(50))
            value = try metric(port: port, name)
        }
        return value
    }
}
