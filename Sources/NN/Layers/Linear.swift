import Autograd
import TensorCore

/// `y = x·Wᵀ + b` over the last axis (PyTorch's `nn.Linear`).
///
/// Shape: `(…, inFeatures)` → `(…, outFeatures)`. Parameters `weight (out, in)`, `bias (out)`.
public final class Linear: Layer {
    public let weight: Variable
    public let bias: Variable?
    public var isTraining = true

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, using rng: inout RandomGenerator) {
        weight = Variable(Tensor.zeros([outFeatures, inFeatures]), requiresGrad: true)
        self.bias = bias ? Variable(Tensor.zeros([outFeatures]), requiresGrad: true) : nil
        resetParameters(using: &rng)
    }

    /// PyTorch's default: kaiming-uniform (a = √5) weight, U(±1/√in) bias.
    public func resetParameters(using rng: inout RandomGenerator) {
        weight.value = Initializer.kaimingUniform(weight.shape, using: &rng)
        if let bias { bias.value = Initializer.defaultBias(bias.shape[0], weightShape: weight.shape, using: &rng) }
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public var parameters: [(String, Variable)] {
        bias.map { [("weight", weight), ("bias", $0)] } ?? [("weight", weight)]
    }

    public func callAsFunction(_ x: Variable) -> Variable { Variable.linear(x, weight: weight, bias: bias) }
}
