import Autograd
import TensorCore

/// `torch.optim.Adagrad`: defaults lr 1e-2, lr decay 0, weight decay 0, initial accumulator 0, eps 1e-10.
///
/// `s ← s + g²`, `p ← p − lr/(1 + (t−1)·lrDecay) · g / (√s + eps)`.
public final class Adagrad: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Float
    public let lrDecay: Float, weightDecay: Float, eps: Float
    private var sums: [Tensor]
    private var steps: [Int]

    public init(_ parameters: [Variable], learningRate: Float = 1e-2, lrDecay: Float = 0, weightDecay: Float = 0,
                initialAccumulatorValue: Float = 0, eps: Float = 1e-10) {
        precondition(learningRate >= 0 && lrDecay >= 0 && weightDecay >= 0 && initialAccumulatorValue >= 0 && eps >= 0,
                     "invalid Adagrad(lr: \(learningRate), lr decay: \(lrDecay), weight decay: \(weightDecay))")
        self.parameters = parameters
        (self.learningRate, self.lrDecay, self.weightDecay, self.eps) = (learningRate, lrDecay, weightDecay, eps)
        sums = parameters.map { Tensor.full($0.shape, initialAccumulatorValue) }
        steps = [Int](repeating: 0, count: parameters.count)
    }

    public func step() {
        let (wd, eps) = (weightDecay, eps)
        forEachParameterWithGradient(parameters) { w, g, n, index in
            steps[index] += 1
            let clr = learningRate / (1 + Float(steps[index] - 1) * lrDecay)
            let s = sums[index].mutablePointer()
            for i in 0..<n {
                let gi = wd != 0 ? g[i] + wd * w[i] : g[i]
                s[i] += gi * gi
                w[i] -= clr * gi / (s[i].squareRoot() + eps)
            }
        }
    }
}
