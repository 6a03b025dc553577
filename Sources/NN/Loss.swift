import Autograd
import TensorCore

/// How an element-wise loss is reduced: PyTorch's `reduction` argument.
public enum Reduction: String, Sendable, CaseIterable {
    case mean, sum, none

    public func apply(_ elementwise: Variable) -> Variable {
        switch self {
        case .mean: elementwise.mean()
        case .sum: elementwise.sum()
        case .none: elementwise
        }
    }
}

/// Element-wise reconstruction losses between an input and its target (same shape).
public enum Loss {
    /// PyTorch's `huber_loss`: `0.5·d²` where `|d| < delta`, else `delta·(|d| − 0.5·delta)`, `d = input − target`.
    public static func huber(_ input: Variable, _ target: Variable, delta: Float = 1, reduction: Reduction = .mean) -> Variable {
        precondition(input.shape == target.shape, "huber loss of \(input.shape) and \(target.shape)")
        return reduction.apply((input - target).huber(delta: delta))
    }

    /// PyTorch's `l1_loss`: `|d|`.
    public static func l1(_ input: Variable, _ target: Variable, reduction: Reduction = .mean) -> Variable {
        precondition(input.shape == target.shape, "l1 loss of \(input.shape) and \(target.shape)")
        return reduction.apply((input - target).abs())
    }

    /// PyTorch's `mse_loss`: `d²`.
    public static func mse(_ input: Variable, _ target: Variable, reduction: Reduction = .mean) -> Variable {
        precondition(input.shape == target.shape, "mse loss of \(input.shape) and \(target.shape)")
        return reduction.apply((input - target).squared())
    }

    /// numalogic's `l2_loss` (its autoencoders' "mse"): `0.5·d²`, half of PyTorch's `mse_loss`.
    public static func halfMSE(_ input: Variable, _ target: Variable, reduction: Reduction = .mean) -> Variable {
        precondition(input.shape == target.shape, "mse loss of \(input.shape) and \(target.shape)")
        return reduction.apply((input - target).squared() * 0.5)
    }
}
