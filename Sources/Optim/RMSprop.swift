import Autograd
import TensorCore

/// `torch.optim.RMSprop`: defaults lr 1e-2, alpha 0.99, eps 1e-8, weight decay 0, momentum 0, not centered.
///
/// `a ← αa + (1−α)g²`; denominator `√a + eps` (centered: `√(a − ḡ²) + eps` with `ḡ ← αḡ + (1−α)g`);
/// with momentum `b ← μb + g/denom`, `p ← p − lr·b`, else `p ← p − lr·g/denom`.
public final class RMSprop: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Float
    public let alpha: Float, eps: Float, weightDecay: Float, momentum: Float, centered: Bool
    private var squareAvg: [Tensor], gradAvg: [Tensor], buffers: [Tensor]

    public init(_ parameters: [Variable], learningRate: Float = 1e-2, alpha: Float = 0.99, eps: Float = 1e-8,
                weightDecay: Float = 0, momentum: Float = 0, centered: Bool = false) {
        precondition(learningRate >= 0 && alpha >= 0 && eps >= 0 && weightDecay >= 0 && momentum >= 0,
                     "invalid RMSprop(lr: \(learningRate), alpha: \(alpha), eps: \(eps), weight decay: \(weightDecay), momentum: \(momentum))")
        self.parameters = parameters
        (self.learningRate, self.alpha, self.eps, self.weightDecay, self.momentum, self.centered) =
            (learningRate, alpha, eps, weightDecay, momentum, centered)
        squareAvg = parameters.map { Tensor.zeros($0.shape) }
        gradAvg = centered ? squareAvg : []
        buffers = momentum > 0 ? squareAvg : []
    }

    public func step() {
        let (a, eps, wd, mu, lr) = (alpha, eps, weightDecay, momentum, learningRate)
        forEachParameterWithGradient(parameters) { w, g, n, index in
            let sq = squareAvg[index].mutablePointer()
            let ga = centered ? gradAvg[index].mutablePointer() : nil
            let buf = mu > 0 ? buffers[index].mutablePointer() : nil
            for i in 0..<n {
                let gi = wd != 0 ? g[i] + wd * w[i] : g[i]
                sq[i] = a * sq[i] + (1 - a) * gi * gi
                let denom: Float
                if let ga {
                    ga[i] = a * ga[i] + (1 - a) * gi
                    denom = (sq[i] - ga[i] * ga[i]).squareRoot() + eps
                } else {
                    denom = sq[i].squareRoot() + eps
                }
                if let buf {
                    buf[i] = mu * buf[i] + gi / denom
                    w[i] -= lr * buf[i]
                } else {
                    w[i] -= lr * gi / denom
                }
            }
        }
    }
}
