import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `aeflow health`: an HTTP GET of a health endpoint, exit 0 on 200 — the container image's HEALTHCHECK,
/// without curl or wget in the image.
struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a running daemon's (or retrain stage's) health endpoint; exit 0 when it answers 200.")

    @Option(help: "The endpoint (http://host:port/path; IPv4 or a name resolving to it). Default: http://127.0.0.1:$AEFLOW_HTTP_PORT/healthz, port 8490 when the variable is unset.")
    var url: String?

    /// The default endpoint: the local health check on `$AEFLOW_HTTP_PORT` (the image sets it; a UDF container
    /// on another port overrides it).
    static func defaultURL(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        "http://127.0.0.1:\(environment["AEFLOW_HTTP_PORT"].flatMap { UInt16($0) }.map(String.init) ?? "8490")/healthz"
    }
    @Option(help: "Seconds to wait for the answer.") var timeout = 3

    func run() throws {
        let url = self.url ?? Self.defaultURL()
        guard url.hasPrefix("http://") else { throw fail("only http:// URLs, got \(url)") }
        let rest = url.dropFirst(7)
        let hostPort = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(hostPort.count)
        let parts = hostPort.split(separator: ":", maxSplits: 1)
        guard let host = parts.first.map(String.init), let port = parts.count == 2 ? UInt16(parts[1]) : 80 else {
            throw fail("cannot read host and port from \(url)")
        }
        let status = try get(host: host, port: port, path: path.isEmpty ? "/" : String(path))
        guard status == 200 else { throw fail("\(url) answered \(status)") }
        print("ok \(url)")
    }

    func get(host: String, port: UInt16, path: String) throws -> Int {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var info: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &info) == 0, let first = info else { throw fail("cannot resolve \(host)") }
        defer { freeaddrinfo(info) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { throw fail("socket: errno \(errno)") }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else { throw fail("cannot connect to \(host):\(port)") }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: \(host)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress!, $0.count, 0) }) == request.count else { throw fail("send failed") }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        guard n > 12 else { throw fail("no HTTP answer from \(host):\(port)") }
        let line = String(decoding: buffer[0..<n], as: UTF8.self).prefix { $0 != "\r" }
        let fields = line.split(separator: " ")
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/"), let code = Int(fields[1]) else { throw fail("not an HTTP answer: \(line)") }
        return code
    }
}
