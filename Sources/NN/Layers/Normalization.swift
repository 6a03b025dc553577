import Autograd
import TensorCore

/// PyTorch's `nn.BatchNorm1d` over `(B, C)` or `(B, C, L)` input.
///
/// Training: normalise with the batch's biased statistics over every axis but 1, and update
/// `running_mean`/`running_var` with momentum 0.1 using the *unbiased* batch variance. Evaluation:
/// normalise with the running statistics. State: `weight`, `bias`, `running_mean`, `running_var` (C),
/// `num_batches_tracked` (I64 scalar).
public final class BatchNorm1d: Layer {
    public let weight: Variable
    public let bias: Variable
    public let runningMean: Buffer
    public let runningVar: Buffer
    public let numBatchesTracked: Buffer
    public let eps: Float
    public let momentum: Float
    public var isTraining = true

    public init(_ numFeatures: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        weight = Variable(Tensor.ones([numFeatures]), requiresGrad: true)
        bias = Variable(Tensor.zeros([numFeatures]), requiresGrad: true)
        runningMean = Buffer(.float(Tensor.zeros([numFeatures])))
        runningVar = Buffer(.float(Tensor.ones([numFeatures])))
        numBatchesTracked = Buffer(.int64([0], shape: []))
        (self.eps, self.momentum) = (eps, momentum)
    }

    public var numFeatures: Int { weight.shape[0] }

    public var parameters: [(String, Variable)] { [("weight", weight), ("bias", bias)] }
    public var buffers: [(String, Buffer)] {
        [("running_mean", runningMean), ("running_var", runningVar), ("num_batches_tracked", numBatchesTracked)]
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        precondition((x.rank == 2 || x.rank == 3) && x.shape[1] == numFeatures,
                     "BatchNorm1d(\(numFeatures)) of input \(x.shape)")
        guard isTraining else {
            return Variable.batchNorm(x, weight: weight, bias: bias, runningMean: runningMean.tensor,
                                      runningVariance: runningVar.tensor, eps: eps).output
        }
        let n = x.shape.reductionCount(alongAxes: x.rank == 2 ? [0] : [0, 2])
        precondition(n > 1, "BatchNorm1d in training needs more than one value per channel, got input \(x.shape)")
        let (y, mean, variance) = Variable.batchNorm(x, weight: weight, bias: bias, eps: eps)
        let m = momentum
        runningMean.tensor = runningMean.tensor * (1 - m) + mean * m
        runningVar.tensor = runningVar.tensor * (1 - m) + variance * (m * Float(n) / Float(n - 1))
        if case .int64(let v, let s) = numBatchesTracked.value { numBatchesTracked.value = .int64([v[0] + 1], shape: s) }
        return y
    }
}

/// PyTorch's `nn.LayerNorm` over the trailing `normalizedShape` axes (biased variance, eps 1e-5).
public final class LayerNorm: Layer {
    public let weight: Variable
    public let bias: Variable
    public let eps: Float
    public var isTraining = true

    public init(_ normalizedShape: [Int], eps: Float = 1e-5) {
        weight = Variable(Tensor.ones(Shape(normalizedShape)), requiresGrad: true)
        bias = Variable(Tensor.zeros(Shape(normalizedShape)), requiresGrad: true)
        self.eps = eps
    }

    public convenience init(_ features: Int, eps: Float = 1e-5) { self.init([features], eps: eps) }

    public var parameters: [(String, Variable)] { [("weight", weight), ("bias", bias)] }

    public func callAsFunction(_ x: Variable) -> Variable {
        let k = weight.rank
        precondition(x.rank >= k && Array(x.shape.dims.suffix(k)) == weight.shape.dims,
                     "LayerNorm\(weight.shape) of input \(x.shape)")
        let axes = Array((x.rank - k)..<x.rank)
        let centered = x - x.mean(alongAxes: axes, keepDims: true)
        let variance = centered.squared().mean(alongAxes: axes, keepDims: true)
        return centered / (variance + eps).sqrt() * weight + bias
    }
}

/// PyTorch's `nn.Dropout`: in training, zeroes each element with probability `p` and scales the rest by
/// `1/(1 − p)`; identity in evaluation. Masks come from the layer's own seeded generator.
public final class Dropout: Layer, StochasticModule {
    public let p: Float
    public var rng: RandomGenerator
    public var isTraining = true

    public init(_ p: Float = 0.5, using rng: inout RandomGenerator) {
        precondition(p >= 0 && p <= 1, "dropout probability must be in [0, 1], got \(p)")
        self.p = p
        self.rng = rng.fork()
    }

    public func reseed(_ seed: UInt64) { rng = RandomGenerator(seed: seed) }

    public func callAsFunction(_ x: Variable) -> Variable {
        guard isTraining && p > 0 else { return x }
        if p == 1 { return x * Tensor.zeros(x.shape) }
        return x * Dropout.mask(x.shape, p: p, using: &rng)
    }

    /// A mask of zeros (probability `p`) and `1/(1 − p)`.
    public static func mask(_ shape: Shape, p: Float, using rng: inout RandomGenerator) -> Tensor {
        let keep = 1 - p
        return Tensor.bernoulli(shape, p: keep, using: &rng) * (1 / keep)
    }
}
