import Autograd
import NN
import TensorCore

/// Post-norm residual wrapper around multi-head attention: `LayerNorm(q + Dropout(MHA(q, k, v)))`
/// (numalogic's `_Residual`; state `sublayer.*`, `norm.*`).
public final class ResidualAttention: Module {
    public let sublayer: MultiHeadAttention
    public let norm: LayerNorm
    public let dropout: Dropout
    public var isTraining = true

    public init(dimModel: Int, numHeads: Int, dropout p: Float, using rng: inout RandomGenerator) {
        let d = max(dimModel / numHeads, 1)
        sublayer = MultiHeadAttention(numHeads: numHeads, dimIn: dimModel, dimQuery: d, dimKey: d, using: &rng)
        norm = LayerNorm(dimModel)
        dropout = Dropout(p, using: &rng)
    }

    public var children: [(String, any Module)] { [("sublayer", sublayer), ("norm", norm), ("dropout", dropout)] }

    public func callAsFunction(_ q: Variable, _ k: Variable, _ v: Variable) -> Variable {
        norm(q + dropout(sublayer(q, k, v)))
    }
}

/// Post-norm residual feed-forward: `LayerNorm(x + Dropout(Linear(ReLU(Linear(x)))))`
/// (state `sublayer.0.*`, `sublayer.2.*`, `norm.*`).
public final class ResidualFeedForward: Layer {
    public let sublayer: Sequential
    public let norm: LayerNorm
    public let dropout: Dropout
    public var isTraining = true

    public init(dimModel: Int, dimFeedforward: Int, dropout p: Float, using rng: inout RandomGenerator) {
        sublayer = Sequential(Linear(dimModel, dimFeedforward, using: &rng), ReLU(), Linear(dimFeedforward, dimModel, using: &rng))
        norm = LayerNorm(dimModel)
        dropout = Dropout(p, using: &rng)
    }

    public var children: [(String, any Module)] { [("sublayer", sublayer), ("norm", norm), ("dropout", dropout)] }

    public func callAsFunction(_ x: Variable) -> Variable { norm(x + dropout(sublayer(x))) }
}

/// Self-attention then feed-forward (numalogic's `_EncoderLayer`; state `attention.*`, `feed_forward.*`).
/// Shape: `(B, T, dimModel)` → same.
public final class TransformerEncoderLayer: Layer {
    public let attention: ResidualAttention
    public let feedForward: ResidualFeedForward
    public var isTraining = true

    public init(dimModel: Int, numHeads: Int, dimFeedforward: Int, dropout: Float, using rng: inout RandomGenerator) {
        attention = ResidualAttention(dimModel: dimModel, numHeads: numHeads, dropout: dropout, using: &rng)
        feedForward = ResidualFeedForward(dimModel: dimModel, dimFeedforward: dimFeedforward, dropout: dropout, using: &rng)
    }

    public var children: [(String, any Module)] { [("attention", attention), ("feed_forward", feedForward)] }

    public func callAsFunction(_ x: Variable) -> Variable { feedForward(attention(x, x, x)) }
}

/// Self-attention, cross-attention to `memory`, feed-forward (numalogic's `_DecoderLayer`;
/// state `attention_1.*`, `attention_2.*`, `feed_forward.*`). Shape: `(B, T, dimModel)` → same.
public final class TransformerDecoderLayer: Module {
    public let attention1: ResidualAttention, attention2: ResidualAttention
    public let feedForward: ResidualFeedForward
    public var isTraining = true

    public init(dimModel: Int, numHeads: Int, dimFeedforward: Int, dropout: Float, using rng: inout RandomGenerator) {
        attention1 = ResidualAttention(dimModel: dimModel, numHeads: numHeads, dropout: dropout, using: &rng)
        attention2 = ResidualAttention(dimModel: dimModel, numHeads: numHeads, dropout: dropout, using: &rng)
        feedForward = ResidualFeedForward(dimModel: dimModel, dimFeedforward: dimFeedforward, dropout: dropout, using: &rng)
    }

    public var children: [(String, any Module)] {
        [("attention_1", attention1), ("attention_2", attention2), ("feed_forward", feedForward)]
    }

    public func callAsFunction(_ target: Variable, memory: Variable) -> Variable {
        let t = attention1(target, target, target)
        return feedForward(attention2(t, memory, memory))
    }
}
