import Autograd
import TensorCore

/// PyTorch's `nn.LSTM(batch_first: true)`, any number of layers, zero initial state.
///
/// Gates are stacked `[i, f, g, o]` along the weight rows: `c' = σ(f)⊙c + σ(i)⊙tanh(g)`,
/// `h' = σ(o)⊙tanh(c')` with pre-activations `W_ih·x + b_ih + W_hh·h + b_hh`.
///
/// Shape: `(B, L, input)` → output `(B, L, hidden)` (last layer), and final `h`, `c` `(layers, B, hidden)`.
/// Parameters per layer k: `weight_ih_l{k} (4H, in_k)`, `weight_hh_l{k} (4H, H)`, `bias_ih_l{k}`,
/// `bias_hh_l{k}` (4H), with `in_0 = input`, `in_k = H` after.
public final class LSTM: Module {
    public struct LayerWeights {
        public let weightIH: Variable, weightHH: Variable
        public let biasIH: Variable?, biasHH: Variable?
    }

    public let inputSize: Int, hiddenSize: Int
    public let layers: [LayerWeights]
    public var isTraining = true

    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, using rng: inout RandomGenerator) {
        precondition(inputSize > 0 && hiddenSize > 0 && numLayers > 0,
                     "invalid LSTM(input: \(inputSize), hidden: \(hiddenSize), layers: \(numLayers))")
        (self.inputSize, self.hiddenSize) = (inputSize, hiddenSize)
        let h4 = 4 * hiddenSize
        layers = (0..<numLayers).map { k in
            LayerWeights(
                weightIH: Variable(Tensor.zeros([h4, k == 0 ? inputSize : hiddenSize]), requiresGrad: true),
                weightHH: Variable(Tensor.zeros([h4, hiddenSize]), requiresGrad: true),
                biasIH: bias ? Variable(Tensor.zeros([h4]), requiresGrad: true) : nil,
                biasHH: bias ? Variable(Tensor.zeros([h4]), requiresGrad: true) : nil)
        }
        resetParameters(using: &rng)
    }

    /// PyTorch's default: every weight and bias U(±1/√hidden).
    public func resetParameters(using rng: inout RandomGenerator) {
        let bound = 1 / Float(hiddenSize).squareRoot()
        for (_, p) in parameters { p.value = Tensor.uniform(p.shape, low: -bound, high: bound, using: &rng) }
    }

    public var numLayers: Int { layers.count }

    public var parameters: [(String, Variable)] {
        layers.enumerated().flatMap { k, l -> [(String, Variable)] in
            var out = [("weight_ih_l\(k)", l.weightIH), ("weight_hh_l\(k)", l.weightHH)]
            if let b = l.biasIH { out.append(("bias_ih_l\(k)", b)) }
            if let b = l.biasHH { out.append(("bias_hh_l\(k)", b)) }
            return out
        }
    }

    /// Runs the sequence; returns the last layer's outputs and the final hidden and cell states.
    /// Each layer is one fused graph node (``Variable/lstmLayer(_:repeatedFor:weightIH:weightHH:biasIH:biasHH:)``).
    public func callAsFunction(_ x: Variable) -> (output: Variable, h: Variable, c: Variable) {
        precondition(x.rank == 3 && x.shape[2] == inputSize, "LSTM(input: \(inputSize)) of input \(x.shape)")
        return run(x, steps: nil)
    }

    /// The same as calling the LSTM on `x` `(B, input)` repeated over `steps` time steps, without
    /// materialising the repetition: the first layer projects each row of `x` once.
    public func callAsFunction(repeating x: Variable, steps: Int) -> (output: Variable, h: Variable, c: Variable) {
        precondition(x.rank == 2 && x.shape[1] == inputSize && steps >= 1,
                     "LSTM(input: \(inputSize)) of input \(x.shape) repeated for \(steps) steps")
        return run(x, steps: steps)
    }

    private func run(_ x: Variable, steps: Int?) -> (output: Variable, h: Variable, c: Variable) {
        let (batch, length) = (x.shape[0], steps ?? x.shape[1])
        let hs = hiddenSize
        var input = x
        var finalH: [Variable] = [], finalC: [Variable] = []
        for (k, layer) in layers.enumerated() {
            let both = Variable.lstmLayer(input, repeatedFor: k == 0 ? steps : nil, weightIH: layer.weightIH,
                                          weightHH: layer.weightHH, biasIH: layer.biasIH, biasHH: layer.biasHH)  // (B, L, 2H)
            let last = both.slice(axis: 1, (length - 1)..<length).reshaped([batch, 2 * hs])
            finalH.append(last.slice(axis: 1, 0..<hs))
            finalC.append(last.slice(axis: 1, hs..<(2 * hs)))
            input = both.slice(axis: 2, 0..<hs)
        }
        return (input, Variable.stack(finalH, axis: 0), Variable.stack(finalC, axis: 0))
    }
}
