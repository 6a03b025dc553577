#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Scalar math used by the kernels (libm's single-precision functions, inlined at call sites).
public enum ScalarMath {
    @inlinable @inline(__always) public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable @inline(__always) public static func log1p(_ x: Float) -> Float { log1pf(x) }
    @inlinable @inline(__always) public static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inlinable @inline(__always) public static func sqrt(_ x: Float) -> Float { x.squareRoot() }
    @inlinable @inline(__always) public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inlinable @inline(__always) public static func sin(_ x: Float) -> Float { sinf(x) }
    @inlinable @inline(__always) public static func cos(_ x: Float) -> Float { cosf(x) }

    /// Logistic sigmoid, evaluated without overflow for large |x|.
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + expf(-x)) }
        let e = expf(x)
        return e / (1 + e)
    }

    /// `log(1 + exp(x))` with torch's default threshold: inputs above 20 pass through unchanged.
    @inlinable @inline(__always)
    public static func softplus(_ x: Float) -> Float { x > 20 ? x : log1pf(expf(x)) }
}
