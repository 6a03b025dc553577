import TensorCore

/// Weight initialisers with PyTorch's fan computation (`_calculate_fan_in_and_fan_out`): for a weight of
/// shape `(d0, d1, rest…)`, fan_in = d1·∏rest and fan_out = d0·∏rest.
public enum Initializer {
    /// PyTorch's `calculate_gain`.
    public enum Nonlinearity: Sendable {
        case linear, sigmoid, tanh, relu, leakyRelu(slope: Float)

        public var gain: Float {
            switch self {
            case .linear, .sigmoid: 1
            case .tanh: 5.0 / 3.0
            case .relu: Float(2).squareRoot()
            case .leakyRelu(let a): (2 / (1 + a * a)).squareRoot()
            }
        }
    }

    public static func fans(_ shape: Shape) -> (fanIn: Int, fanOut: Int) {
        precondition(shape.rank >= 2, "fan in/out need at least 2 dimensions, got \(shape)")
        let receptive = shape.dims.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// U(−b, b) with `b = gain·√(6/(fan_in + fan_out))`.
    public static func xavierUniform(_ shape: Shape, gain: Float = 1, using rng: inout RandomGenerator) -> Tensor {
        let (fi, fo) = fans(shape)
        let bound = gain * (6 / Float(fi + fo)).squareRoot()
        return Tensor.uniform(shape, low: -bound, high: bound, using: &rng)
    }

    /// N(0, σ²) with `σ = gain·√(2/(fan_in + fan_out))`.
    public static func xavierNormal(_ shape: Shape, gain: Float = 1, using rng: inout RandomGenerator) -> Tensor {
        let (fi, fo) = fans(shape)
        return Tensor.normal(shape, std: gain * (2 / Float(fi + fo)).squareRoot(), using: &rng)
    }

    /// U(−b, b) with `b = √3·gain/√fan_in`, gain for leaky ReLU with slope `a`. PyTorch's default for
    /// Linear and Conv weights uses `a = √5`, giving `b = 1/√fan_in`.
    public static func kaimingUniform(_ shape: Shape, a: Float = Float(5).squareRoot(), using rng: inout RandomGenerator) -> Tensor {
        let (fi, _) = fans(shape)
        let gain = Nonlinearity.leakyRelu(slope: a).gain
        let bound = Float(3).squareRoot() * gain / Float(fi).squareRoot()
        return Tensor.uniform(shape, low: -bound, high: bound, using: &rng)
    }

    /// U(−1/√fan_in, 1/√fan_in): PyTorch's default bias initialisation for a weight of `weightShape`.
    public static func defaultBias(_ count: Int, weightShape: Shape, using rng: inout RandomGenerator) -> Tensor {
        let (fi, _) = fans(weightShape)
        let bound: Float = fi > 0 ? 1 / Float(fi).squareRoot() : 0
        return Tensor.uniform([count], low: -bound, high: bound, using: &rng)
    }
}
