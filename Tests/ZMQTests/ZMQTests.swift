import Foundation
import Testing
import ZMQ

@Suite struct ZMQTests {
    @Test func pushPullMultipartOverAnEphemeralPort() throws {
        let ctx = try ZMQContext()
        let pull = try ZMQSocket(ctx, .pull)
        try pull.bind("tcp://127.0.0.1:0")
        let endpoint = pull.lastEndpoint
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":0"))
        let push = try ZMQSocket(ctx, .push)
        try push.connect(endpoint)
        let big = [UInt8](repeating: 7, count: 1 << 20)
        try push.send([Array("topic".utf8), [], big])
        let frames = try pull.receive()
        #expect(frames.count == 3 && frames[0] == Array("topic".utf8) && frames[1].isEmpty && frames[2] == big)
        push.close(); pull.close()
        #expect(!push.isOpen)
    }

    @Test func aLentLastFrameIsTheMessagesLastFrame() throws {
        let ctx = try ZMQContext()
        let pull = try ZMQSocket(ctx, .pull)
        try pull.bind("inproc://lent")
        let push = try ZMQSocket(ctx, .push)
        try push.connect("inproc://lent")
        try push.send([Array("topic".utf8), Array("body".utf8)])
        try push.send(Array("one".utf8))
        try push.send([UInt8]())
        #expect(try pull.receive { Array($0) } == Array("body".utf8))
        #expect(try pull.receive { Array($0) } == Array("one".utf8))
        #expect(try pull.receive { $0.count } == 0)
        #expect(throws: ZMQError.self) { try pull.receive(dontWait: true) { $0.count } }
    }

    @Test func nonBlockingReceiveReportsWouldBlock() throws {
        let ctx = try ZMQContext()
        let pull = try ZMQSocket(ctx, .pull)
        try pull.bind("inproc://empty")
        do {
            _ = try pull.receive(dontWait: true)
            Issue.record("received from an empty socket")
        } catch {
            #expect(error.kind == .wouldBlock)
        }
    }

    @Test func shutdownEndsABlockedReceive() async throws {
        let ctx = try ZMQContext()
        let started = DispatchSemaphore(value: 0)
        let kind = try await withCheckedThrowingContinuation { (c: CheckedContinuation<ZMQError.Kind?, Error>) in
            Thread.detachNewThread {
                do {
                    let pull = try ZMQSocket(ctx, .pull)
                    try pull.bind("inproc://blocked")
                    started.signal()
                    _ = try pull.receive()
                    c.resume(returning: nil)
                } catch let e as ZMQError {
                    c.resume(returning: e.kind)
                } catch { c.resume(throwing: error) }
            }
            started.wait()
            ctx.shutdown()
        }
        #expect(kind == .terminated)
    }

    @Test func aProxyForwardsEveryMessageInOrderUntilShutdown() async throws {
        let ctx = try ZMQContext()
        let bound = DispatchSemaphore(value: 0)
        async let ended: ZMQError.Kind? = withCheckedThrowingContinuation { (c: CheckedContinuation<ZMQError.Kind?, Error>) in
            Thread.detachNewThread {
                do {
                    let input = try ZMQSocket(ctx, .pull), output = try ZMQSocket(ctx, .push)
                    try input.bind("inproc://proxy-in")
                    try output.bind("inproc://proxy-out")
                    bound.signal()
                    try ZMQSocket.proxy(input, output)
                    c.resume(returning: nil)
                } catch let e as ZMQError {
                    c.resume(returning: e.kind)
                } catch { c.resume(throwing: error) }
            }
        }
        bound.wait()
        let push = try ZMQSocket(ctx, .push), pull = try ZMQSocket(ctx, .pull)
        try push.connect("inproc://proxy-in")
        try pull.connect("inproc://proxy-out")
        try pull.setReceiveTimeout(10_000)   // a proxy that forwards nothing fails the test instead of hanging it
        for i in 0..<100 { try push.send([Array("t".utf8), Array("m\(i)".utf8)]) }
        for i in 0..<100 { #expect(try pull.receive() == [Array("t".utf8), Array("m\(i)".utf8)], "message \(i), frames kept") }
        ctx.shutdown()
        #expect(try await ended == .terminated)
    }

    @Test func subscriptionsFilterByTopic() throws {
        let ctx = try ZMQContext()
        let pub = try ZMQSocket(ctx, .pub)
        try pub.bind("tcp://127.0.0.1:0")
        let sub = try ZMQSocket(ctx, .sub)
        try sub.subscribe("keep")
        try sub.connect(pub.lastEndpoint)
        var poller = ZMQPoller()
        poller.add(sub)
        // PUB drops until the subscription arrives: publish until the subscriber sees a message.
        var got: [[UInt8]]?
        for _ in 0..<2000 where got == nil {
            try pub.send([Array("drop".utf8), Array("x".utf8)])
            try pub.send([Array("keep:a".utf8), Array("y".utf8)])
            if try !poller.poll(timeoutMs: 5).isEmpty { got = try sub.receive() }
        }
        #expect(got == [Array("keep:a".utf8), Array("y".utf8)])
    }

    @Test func oversizedFramesAreDroppedByLibzmq() throws {
        let ctx = try ZMQContext()
        let pull = try ZMQSocket(ctx, .pull)
        try pull.setMaximumMessageSize(1024)
        try pull.bind("tcp://127.0.0.1:0")
        let bad = try ZMQSocket(ctx, .push), good = try ZMQSocket(ctx, .push)
        try bad.connect(pull.lastEndpoint)
        try bad.send([UInt8](repeating: 1, count: 4096))   // the peer is disconnected; nothing is delivered
        try good.connect(pull.lastEndpoint)
        try good.send(Array("small".utf8))
        #expect(try pull.receive() == [Array("small".utf8)])
    }

    @Test func curveKeysAndAnEncryptedConnection() throws {
        #expect(CurveKeyPair.isCurveAvailable)
        let server = try CurveKeyPair.generate(), client = try CurveKeyPair.generate()
        #expect(CurveKeyPair.isValid(server.publicKey) && CurveKeyPair.isValid(server.secretKey))
        #expect(!CurveKeyPair.isValid("not a key") && !CurveKeyPair.isValid(String(repeating: "~", count: 40)))
        #expect(try CurveKeyPair.publicKey(forSecret: server.secretKey) == server.publicKey)
        let ctx = try ZMQContext()
        let pull = try ZMQSocket(ctx, .pull)
        try pull.makeCurveServer(secretKey: server.secretKey)
        try pull.bind("tcp://127.0.0.1:0")
        let push = try ZMQSocket(ctx, .push)
        try push.makeCurveClient(serverKey: server.publicKey, keys: client)
        try push.connect(pull.lastEndpoint)
        try push.send("secret")
        #expect(try pull.receive() == [Array("secret".utf8)])
    }

    @Test func errorsCarryTheOperationAndErrno() throws {
        let ctx = try ZMQContext()
        let s = try ZMQSocket(ctx, .pull)
        do {
            try s.bind("nonsense://x")
            Issue.record("bound a nonsense endpoint")
        } catch {
            #expect(error.operation == "zmq_bind(nonsense://x)" && error.kind == .other)
            #expect(error.description.contains("errno"))
        }
        s.close()
        #expect(throws: ZMQError.self) { try s.send("x") }
    }
}
