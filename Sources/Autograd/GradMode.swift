/// Whether operations on ``Variable``s record a graph. Recording is on by default; ``withNoGrad(_:)``
/// turns it off for the duration of a closure on the current task or thread (inference uses it).
public enum GradMode {
    @usableFromInline @TaskLocal static var disabled = false

    @inlinable
    public static var isEnabled: Bool { !disabled }
}

/// Runs `body` without recording gradients: results of operations carry no graph and cost no memory
/// for backward. Nested scopes are fine.
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$disabled.withValue(true, operation: body)
}
