import Autograd
import TensorCore

/// PyTorch's `nn.Conv1d` (groups 1, zero padding).
///
/// Shape: `(B, in, L)` → `(B, out, floor((L + 2p − d(k−1) − 1)/s) + 1)`.
/// Parameters `weight (out, in, k)`, `bias (out)`.
public final class Conv1d: Layer {
    public let weight: Variable
    public let bias: Variable?
    public let stride: Int, padding: Int, dilation: Int
    public var isTraining = true

    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        dilation: Int = 1, bias: Bool = true, using rng: inout RandomGenerator
    ) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0 && dilation > 0 && padding >= 0,
                     "invalid Conv1d(\(inChannels), \(outChannels), k: \(kernelSize), s: \(stride), p: \(padding), d: \(dilation))")
        weight = Variable(Tensor.zeros([outChannels, inChannels, kernelSize]), requiresGrad: true)
        self.bias = bias ? Variable(Tensor.zeros([outChannels]), requiresGrad: true) : nil
        (self.stride, self.padding, self.dilation) = (stride, padding, dilation)
        resetParameters(using: &rng)
    }

    public func resetParameters(using rng: inout RandomGenerator) {
        weight.value = Initializer.kaimingUniform(weight.shape, using: &rng)
        if let bias { bias.value = Initializer.defaultBias(bias.shape[0], weightShape: weight.shape, using: &rng) }
    }

    public var parameters: [(String, Variable)] {
        bias.map { [("weight", weight), ("bias", $0)] } ?? [("weight", weight)]
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        Variable.conv1d(x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation)
    }
}

/// PyTorch's `nn.ConvTranspose1d` (groups 1).
///
/// Shape: `(B, in, L)` → `(B, out, (L − 1)s − 2p + d(k−1) + outputPadding + 1)`.
/// Parameters `weight (in, out, k)`, `bias (out)`.
public final class ConvTranspose1d: Layer {
    public let weight: Variable
    public let bias: Variable?
    public let stride: Int, padding: Int, outputPadding: Int, dilation: Int
    public var isTraining = true

    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        outputPadding: Int = 0, dilation: Int = 1, bias: Bool = true, using rng: inout RandomGenerator
    ) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0 && dilation > 0
                     && padding >= 0 && outputPadding >= 0 && outputPadding < Swift.max(stride, dilation),
                     "invalid ConvTranspose1d(\(inChannels), \(outChannels), k: \(kernelSize), s: \(stride), p: \(padding), op: \(outputPadding), d: \(dilation))")
        weight = Variable(Tensor.zeros([inChannels, outChannels, kernelSize]), requiresGrad: true)
        self.bias = bias ? Variable(Tensor.zeros([outChannels]), requiresGrad: true) : nil
        (self.stride, self.padding, self.outputPadding, self.dilation) = (stride, padding, outputPadding, dilation)
        resetParameters(using: &rng)
    }

    /// PyTorch's default; its fan-in for the `(in, out, k)` weight is `out·k`.
    public func resetParameters(using rng: inout RandomGenerator) {
        weight.value = Initializer.kaimingUniform(weight.shape, using: &rng)
        if let bias { bias.value = Initializer.defaultBias(bias.shape[0], weightShape: weight.shape, using: &rng) }
    }

    public var parameters: [(String, Variable)] {
        bias.map { [("weight", weight), ("bias", $0)] } ?? [("weight", weight)]
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        Variable.convTranspose1d(x, weight: weight, bias: bias, stride: stride, padding: padding,
                                 outputPadding: outputPadding, dilation: dilation)
    }
}
