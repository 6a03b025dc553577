import Foundation
import Stage

/// An HTTP scoring request split among the scoring workers that own its keys: each worker answers its share,
/// and the last share to arrive replies with every body in the request's own order. A request is answered
/// whole or refused whole.
final class RequestGather: @unchecked Sendable {
    // @unchecked: `parts`, `remaining` and `failure` are touched only under `lock`.
    private let lock = NSLock()
    private var parts: [(position: Int, body: [UInt8])] = []
    private var remaining: Int
    private var failure: Rejection?
    private let reply: @Sendable (Result<[[UInt8]], Rejection>) -> Void

    init(shares: Int, reply: @escaping @Sendable (Result<[[UInt8]], Rejection>) -> Void) {
        precondition(shares >= 1)
        (remaining, self.reply) = (shares, reply)
    }

    /// One worker's answer: its bodies with their positions in the request, or its refusal.
    func complete(_ share: Result<[(position: Int, body: [UInt8])], Rejection>) {
        lock.lock()
        switch share {
        case .success(let bodies): parts += bodies
        case .failure(let r): if failure == nil { failure = r }
        }
        remaining -= 1
        let done = remaining == 0
        lock.unlock()
        guard done else { return }
        if let failure { reply(.failure(failure)) } else { reply(.success(parts.sorted { $0.position < $1.position }.map(\.body))) }
    }
}
