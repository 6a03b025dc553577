import Autograd

/// PyTorch's `nn.MaxPool1d` (floor mode). Shape: `(B, C, L)` → `(B, C, floor((L + 2p − k)/s) + 1)`.
public final class MaxPool1d: Layer {
    public let kernelSize: Int, stride: Int, padding: Int
    public var isTraining = true

    /// `stride` defaults to `kernelSize`, as in PyTorch.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        (self.kernelSize, self.stride, self.padding) = (kernelSize, stride ?? kernelSize, padding)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        x.maxPool1d(kernelSize: kernelSize, stride: stride, padding: padding)
    }
}

/// PyTorch's `nn.Upsample(scale_factor:, mode: "linear", align_corners: false)` on `(B, C, L)`.
public final class Upsample: Layer {
    public let scaleFactor: Float
    public var isTraining = true

    public init(scaleFactor: Float) {
        precondition(scaleFactor > 0, "Upsample scale factor must be positive, got \(scaleFactor)")
        self.scaleFactor = scaleFactor
    }

    public func callAsFunction(_ x: Variable) -> Variable { x.upsampleLinear1d(scaleFactor: scaleFactor) }
}
