/// The one way in: the bytes of a message (a ZeroMQ body, an HTTP body, a Numaflow datum's value) become routed
/// points, a window, or a rejection. Every entry point (the daemon's sockets and HTTP, the UDF, the retrain
/// stage's history feed) goes through it, so a point is decoded and routed by the same rules everywhere.
public struct Ingest: Sendable {
    public let decoder: InputDecoder
    public let router: PointRouter

    /// `router`: the process's one router (built from `config` when nil).
    public init(config: AEFlowConfig, router: PointRouter? = nil) {
        decoder = InputDecoder(config.windows)
        self.router = router ?? PointRouter(config: config)
    }

    /// A point of a message that was decoded but could not be routed.
    public struct Refusal: Sendable {
        /// Its index in the message, when the message held more than one point.
        public let index: Int?
        public let rejection: Rejection
    }

    /// What a message became.
    public enum Outcome: Sendable {
        /// A points message: each accepted point once per pipeline it goes to, and the points refused.
        case points([RoutedPoint], refused: [Refusal])
        /// A whole window for one key (routed when it is scored: it may name its pipeline).
        case window(InputWindow)
        /// The message did not decode: nothing in it is accepted.
        case rejected(Rejection)

        /// Whether anything in the message was accepted (it goes on to the history).
        public var decoded: Bool { if case .rejected = self { false } else { true } }

        /// A points outcome's points and refusals, moved out (the outcome keeps none). Taken so, the points have one
        /// reference and drain without a copy (`Array.draining()`); a payload bound by a `switch` is a second one
        /// while the outcome lives.
        public mutating func takePoints() -> (routed: [RoutedPoint], refused: [Refusal])? {
            guard case .points(let routed, let refused) = self else { return nil }
            self = .points([], refused: [])
            return (routed, refused)
        }
    }

    /// Decodes and routes one message. `source` (the message's frames) travels with its points, so a point
    /// refused later (late, duplicate) is dead-lettered with the message it came in.
    public func callAsFunction(_ bytes: [UInt8], arrival: Double, source: [[UInt8]]? = nil) -> Outcome {
        switch decoder.decode(bytes) {
        case .failure(let r): .rejected(r)
        case .success(let message): route(message, arrival: arrival, source: source)
        }
    }

    /// Routes a decoded message.
    public func route(_ message: consuming InputMessage, arrival: Double, source: [[UInt8]]? = nil) -> Outcome {
        switch consume message {
        case .window(let w):
            return .window(w)
        case .points(let ps):
            var routed: [RoutedPoint] = []
            if ps.count > 1 { routed.reserveCapacity(ps.count) }   // (one point's array is the router's own, below)
            var refused: [Refusal] = []
            let count = ps.count
            // The points moved out of the message one by one (a point read from the array is copied: its key, metrics
            // and strings retained and released once more).
            for (k, p) in ps.draining().enumerated() {
                let index = count > 1 ? k : nil
                switch router.route(p, arrival: arrival, source: source, index: index) {
                case .success(let rs) where routed.isEmpty: routed = rs   // (the usual single point: no copy of it)
                case .success(let rs): routed += rs
                case .failure(let r): refused.append(Refusal(index: index, rejection: r))
                }
            }
            return .points(routed, refused: refused)
        }
    }
}
