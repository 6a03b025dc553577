import Foundation
import ServiceLifecycle

/// A component with blocking `start`/`stop` (the daemon runtime, the retrain stage) run as a service:
/// started with the process; on graceful shutdown (SIGTERM/SIGINT) stopped on a thread of its own, since
/// `stop` blocks while it drains (every accepted point published, the last history written).
public struct BlockingService: Service {
    let start: @Sendable () throws -> Void
    let stop: @Sendable () -> Void
    let onStarted: @Sendable () -> Void

    public init(start: @escaping @Sendable () throws -> Void, stop: @escaping @Sendable () -> Void,
                onStarted: @escaping @Sendable () -> Void = {}) {
        (self.start, self.stop, self.onStarted) = (start, stop, onStarted)
    }

    public func run() async throws {
        try start()
        onStarted()
        try? await gracefulShutdown()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                stop()
                c.resume()
            }
        }
    }
}
