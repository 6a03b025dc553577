import Autograd
import TensorCore

/// `torch.optim.Adam` (no AMSGrad): defaults lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.
///
/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `p ← p − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + eps)`.
public final class Adam: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    private var m: [Tensor], v: [Tensor]
    private var steps: [Int]

    public init(_ parameters: [Variable], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 0) {
        precondition(learningRate >= 0 && eps >= 0 && weightDecay >= 0 && (0..<1).contains(beta1) && (0..<1).contains(beta2),
                     "invalid Adam(lr: \(learningRate), betas: (\(beta1), \(beta2)), eps: \(eps), weight decay: \(weightDecay))")
        self.parameters = parameters
        (self.learningRate, self.beta1, self.beta2, self.eps, self.weightDecay) = (learningRate, beta1, beta2, eps, weightDecay)
        m = parameters.map { Tensor.zeros($0.shape) }
        v = m
        steps = [Int](repeating: 0, count: parameters.count)
    }

    public func step() {
        let (b1, b2, eps, wd) = (beta1, beta2, eps, weightDecay)
        forEachParameterWithGradient(parameters) { w, g, n, index in
            steps[index] += 1
            let t = Double(steps[index])
            // Bias corrections in double precision, as PyTorch computes them in Python floats.
            let stepSize = Float(Double(learningRate) / (1 - Double(b1).pow(t)))
            let bc2Sqrt = Float((1 - Double(b2).pow(t)).squareRoot())
            let mm = m[index].mutablePointer(), vv = v[index].mutablePointer()
            for i in 0..<n {
                let gi = wd != 0 ? g[i] + wd * w[i] : g[i]
                mm[i] = b1 * mm[i] + (1 - b1) * gi
                vv[i] = b2 * vv[i] + (1 - b2) * gi * gi
                w[i] -= stepSize * mm[i] / (vv[i].squareRoot() / bc2Sqrt + eps)
            }
        }
    }
}

extension Double {
    @inline(__always) func pow(_ e: Double) -> Double { ScalarPow.pow(self, e) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum ScalarPow {
    @inline(__always) static func pow(_ a: Double, _ b: Double) -> Double {
        #if canImport(Glibc)
        Glibc.pow(a, b)
        #else
        Darwin.pow(a, b)
        #endif
    }
}
