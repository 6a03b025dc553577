import Testing
import TensorCore

/// The largest absolute difference between two equally shaped tensors (∞ on a shape mismatch or NaN).
public func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    guard a.shape == b.shape else { return .infinity }
    var worst: Float = 0
    let (x, y) = (a.scalars, b.scalars)
    for i in 0..<x.count {
        let d = abs(x[i] - y[i])
        if d.isNaN || (x[i].isNaN != y[i].isNaN) { return .infinity }
        worst = max(worst, d)
    }
    return worst
}

/// Records a test issue unless `actual` and `expected` have the same shape and every element satisfies
/// `|a − e| ≤ atol + rtol·|e|`. The message names the worst element.
public func expectClose(
    _ actual: Tensor, _ expected: Tensor, atol: Float = 1e-5, rtol: Float = 0, _ what: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.shape == expected.shape else {
        Issue.record("\(what): shape \(actual.shape) differs from expected \(expected.shape)", sourceLocation: sourceLocation)
        return
    }
    let (a, e) = (actual.scalars, expected.scalars)
    var worstIndex = -1
    var worstExcess: Float = 0
    for i in 0..<a.count {
        let allowed = atol + rtol * abs(e[i])
        let diff = abs(a[i] - e[i])
        let bad = diff.isNaN || a[i].isNaN != e[i].isNaN || diff > allowed
        if bad && (worstIndex < 0 || !(diff - allowed <= worstExcess)) {
            worstIndex = i
            worstExcess = diff - allowed
        }
    }
    if worstIndex >= 0 {
        Issue.record(
            "\(what): element \(worstIndex) is \(a[worstIndex]), expected \(e[worstIndex]) (|Δ| = \(abs(a[worstIndex] - e[worstIndex])), atol \(atol), rtol \(rtol)); max |Δ| = \(maxAbsDifference(actual, expected))",
            sourceLocation: sourceLocation)
    }
}

/// Scalar version of ``expectClose(_:_:atol:rtol:_:sourceLocation:)``.
public func expectClose(
    _ actual: Float, _ expected: Float, atol: Float = 1e-5, rtol: Float = 0, _ what: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectClose(Tensor(scalar: actual), Tensor(scalar: expected), atol: atol, rtol: rtol, what, sourceLocation: sourceLocation)
}
