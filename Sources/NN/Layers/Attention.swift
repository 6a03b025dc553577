import Autograd
import TensorCore

/// Scaled dot-product attention without a mask: `softmax(Q·Kᵀ/√d)·V` with `d` the query width.
///
/// Shape: query `(B, Tq, d)`, key `(B, Tk, d)`, value `(B, Tk, dv)` → `(B, Tq, dv)`.
public func scaledDotProductAttention(query: Variable, key: Variable, value: Variable) -> Variable {
    let scale = 1 / Float(query.shape[query.rank - 1]).squareRoot()
    let scores = Variable.batchedMatmul(query, key, transposeB: true) * scale
    return Variable.batchedMatmul(scores.softmax(axis: -1), value)
}

/// One attention head: its own query, key and value projections.
/// State names `query.*`, `key.*`, `value.*` (numalogic's `_AttentionHead`).
public final class AttentionHead: Module {
    public let query: Linear, key: Linear, value: Linear
    public var isTraining = true

    public init(dimIn: Int, dimQuery: Int, dimKey: Int, using rng: inout RandomGenerator) {
        query = Linear(dimIn, dimQuery, using: &rng)
        key = Linear(dimIn, dimKey, using: &rng)
        value = Linear(dimIn, dimKey, using: &rng)
    }

    public var children: [(String, any Module)] { [("query", query), ("key", key), ("value", value)] }

    public func callAsFunction(_ q: Variable, _ k: Variable, _ v: Variable) -> Variable {
        scaledDotProductAttention(query: query(q), key: key(k), value: value(v))
    }
}

/// Multi-head attention as a list of independent heads whose outputs are concatenated and projected
/// back to `dimIn` — the structure and state names of numalogic's `MultiHeadAttention`
/// (`heads.{h}.{query,key,value}.*`, `linear.*`).
///
/// Shape: query `(B, Tq, dimIn)`, key/value `(B, Tk, dimIn)` → `(B, Tq, dimIn)`.
public final class MultiHeadAttention: Module {
    public let heads: ModuleList<AttentionHead>
    public let linear: Linear
    public var isTraining = true

    public init(numHeads: Int, dimIn: Int, dimQuery: Int, dimKey: Int, using rng: inout RandomGenerator) {
        precondition(numHeads > 0 && dimIn > 0 && dimQuery > 0 && dimKey > 0,
                     "invalid MultiHeadAttention(heads: \(numHeads), in: \(dimIn), q: \(dimQuery), k: \(dimKey))")
        precondition(dimQuery == dimKey, "query and key widths must agree for dot-product attention")
        heads = ModuleList((0..<numHeads).map { _ in AttentionHead(dimIn: dimIn, dimQuery: dimQuery, dimKey: dimKey, using: &rng) })
        linear = Linear(numHeads * dimKey, dimIn, using: &rng)
    }

    public var children: [(String, any Module)] { [("heads", heads), ("linear", linear)] }

    public func callAsFunction(_ query: Variable, _ key: Variable, _ value: Variable) -> Variable {
        let outs = heads.modules.map { $0(query, key, value) }
        return linear(outs.count == 1 ? outs[0] : Variable.concat(outs, axis: -1))
    }
}
