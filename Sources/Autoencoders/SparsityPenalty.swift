import Autograd
import TensorCore

/// The sparsity term of the sparse autoencoders (a training term only; never part of a score).
///
/// AEFlow's corrected, uniform definition (ARCHITECTURE.md §2): with `ρ̂ⱼ` the batch mean of latent unit
/// `j`, `kl` is the Bernoulli KL divergence `Σⱼ ρ·log(ρ/ρ̂ⱼ) + (1−ρ)·log((1−ρ)/(1−ρ̂ⱼ))` with `ρ̂` clamped
/// to (1e-6, 1 − 1e-6); `l1` is the batch mean of `Σⱼ |aⱼ|`; `l2` the batch mean of `Σⱼ aⱼ²`. All are
/// multiplied by `beta`, for every sparse variant.
public struct SparsityPenalty: Equatable, Sendable {
    public enum Method: String, Sendable, CaseIterable { case kl, l1, l2 }

    public var beta: Float
    public var rho: Float
    public var method: Method

    public init(beta: Float = 1e-3, rho: Float = 0.05, method: Method = .kl) {
        (self.beta, self.rho, self.method) = (beta, rho, method)
    }

    /// The penalty for latent activations of shape `(B, …)`.
    public func callAsFunction(_ latent: Variable) -> Variable {
        let batch = Float(latent.shape[0])
        switch method {
        case .kl:
            let rhoHat = latent.mean(alongAxes: [0]).clamped(min: 1e-6, max: 1 - 1e-6)
            let r = rho
            let kl = (rhoHat.log() * -r + (1 - rhoHat).log() * -(1 - r))
                + (r * ScalarMath.log(r) + (1 - r) * ScalarMath.log(1 - r))
            return kl.sum() * beta
        case .l1:
            return latent.abs().sum() * (beta / batch)
        case .l2:
            return latent.squared().sum() * (beta / batch)
        }
    }

    /// The conf entries (`beta`, `rho`, `method`) as numalogic-style keys.
    public var conf: [(String, JSONValue)] {
        [("beta", .double(Double(beta))), ("rho", .double(Double(rho))), ("method", .string(method.rawValue))]
    }
}
