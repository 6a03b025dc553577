import Foundation

/// Polls `condition` every 50 ms until it holds or `seconds` pass; returns whether it held. For state another
/// process reaches on its own time (a server's answer, a counter): the wait ends as soon as it is there.
public func eventually(within seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        _ = DispatchSemaphore(value: 0).wait(timeout: .now() + .milliseconds(50))
    }
}
