import Foundation
@testable import Daemon
import Logging
import Stage
import Testing
import ZMQ

/// The score socket shared by the scoring workers (``ScoreSender``): real ZeroMQ sockets, real threads.
@Suite struct ScoreSenderTests {
    static func score(_ key: [String], _ body: String) -> Emission {
        .score(key: key, body: Array(body.utf8), arrival: 0, status: .scored, anomalyOf: nil)
    }

    static func request(_ n: Int) -> Emission {
        .trainRequest(TrainRequest(uuid: "r\(n)", configID: "c", pipelineID: "p", key: ["k"], metrics: ["m"]))
    }

    /// One exposition sample's value (the first line that starts with `name`).
    static func sample(_ metrics: ScoringMetrics, _ name: String) -> Double? {
        String(decoding: metrics.exposition(), as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }

    /// Two workers sending at once: every score arrives once, each worker's in the order it sent them; what is not
    /// a score comes back to the caller in order; the counts and the latency histogram cover every score.
    @Test func twoWorkersScoresAllArriveEachInItsOrder() throws {
        let ctx = try ZMQContext()
        let pull = try ZMQSocket(ctx, .pull)
        try pull.setReceiveTimeout(10_000)
        try pull.bind("inproc://scores-\(UUID().uuidString)")
        let push = try ZMQSocket(ctx, .push)
        try push.setSendHighWaterMark(0)
        try push.connect(pull.lastEndpoint)
        let metrics = ScoringMetrics()
        let sender = ScoreSender(socket: push, metrics: metrics, logger: Logger(label: "t"))
        let batches = 2_000
        final class Rest: @unchecked Sendable { var requests: [String] = [] }   // one per worker, touched by it alone
        let rest = [Rest(), Rest()]
        DispatchQueue.concurrentPerform(iterations: 2) { w in
            var seq = 0
            for b in 0..<batches {
                var batch: [Emission] = []
                for _ in 0..<(1 + b % 4) {
                    batch.append(Self.score(["w\(w)"], "\(w) \(seq)"))
                    seq += 1
                }
                if b % 100 == 0 { batch.insert(Self.request(b), at: min(b % 3, batch.count)) }
                for e in sender.send(batch) {
                    guard case .trainRequest(let r) = e else { Issue.record("a score came back"); continue }
                    rest[w].requests.append(r.uuid)
                }
            }
        }
        let perWorker = (0..<batches).reduce(0) { $0 + 1 + $1 % 4 }
        var next = [0, 0]
        for _ in 0..<(2 * perWorker) {
            let body = String(decoding: try pull.receive()[0], as: UTF8.self).split(separator: " ").map { Int($0)! }
            #expect(body[1] == next[body[0]], "worker \(body[0]): \(body[1]) after \(next[body[0]] - 1)")
            next[body[0]] = body[1] + 1
        }
        #expect(next == [perWorker, perWorker])
        #expect(rest[0].requests == stride(from: 0, to: batches, by: 100).map { "r\($0)" } && rest[1].requests == rest[0].requests)
        #expect(sender.counts == (2 * perWorker, 2 * perWorker))
        #expect(Self.sample(metrics, "aeflow_score_latency_seconds_count") == Double(2 * perWorker))
        sender.close()
        pull.close()
    }

    /// On a PUB socket each score goes with its key as the topic (values joined by `:`).
    @Test func pubScoresCarryTheirKeyAsTopic() throws {
        let ctx = try ZMQContext()
        let pub = try ZMQSocket(ctx, .pub)
        try pub.setPublishNoDrop()
        try pub.bind("inproc://pub-\(UUID().uuidString)")
        let sub = try ZMQSocket(ctx, .sub)
        try sub.setReceiveTimeout(10_000)
        try sub.subscribe("")
        try sub.connect(pub.lastEndpoint)
        let sender = ScoreSender(socket: pub, metrics: ScoringMetrics(), logger: Logger(label: "t"))
        // inproc connects at once: the subscription is in place before the first send.
        _ = sender.send([Self.score(["web", "cpu"], "a"), Self.score([], "b"), Self.score(["x"], "c")])
        var got: [[String]] = []
        for _ in 0..<3 { got.append(try sub.receive().map { String(decoding: $0, as: UTF8.self) }) }
        #expect(got == [["web:cpu", "a"], ["", "b"], ["x", "c"]])
        sender.close()
        sub.close()
    }

    /// With nobody reading, a send does not wait: the score is dropped and counted, and the worker goes on.
    @Test func scoresNobodyTakesAreDroppedAndCountedWithoutWaiting() throws {
        let ctx = try ZMQContext()
        let push = try ZMQSocket(ctx, .push)
        try push.bind("inproc://nobody-\(UUID().uuidString)")
        let metrics = ScoringMetrics()
        let sender = ScoreSender(socket: push, metrics: metrics, logger: Logger(label: "t"))
        let rest = sender.send([Self.score(["a"], "1"), Self.request(1), Self.score(["b"], "2")])
        #expect(rest.count == 1)
        #expect(sender.counts == (2, 0))
        #expect(Self.sample(metrics, "aeflow_outputs_dropped_total{output=\"scores\"}") == 2)
        #expect(Self.sample(metrics, "aeflow_score_latency_seconds_count") == 0)
        sender.close()
    }
}
