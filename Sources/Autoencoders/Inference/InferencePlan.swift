import NN
import TensorCore

/// Working memory for inference plans, owned by one thread and reused across calls: numbered buffers that
/// grow to the largest size asked for and are never shrunk.
public final class InferenceScratch {
    private var buffers: [(UnsafeMutablePointer<Float>, Int)] = []

    public init() {}

    deinit { for (p, _) in buffers { p.deallocate() } }

    /// Buffer `index` with room for at least `count` floats (contents unspecified).
    func buffer(_ index: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
        while buffers.count <= index { buffers.append((UnsafeMutablePointer<Float>.allocate(capacity: 1), 1)) }
        if buffers[index].1 < count {
            buffers[index].0.deallocate()
            buffers[index] = (UnsafeMutablePointer<Float>.allocate(capacity: count), count)
        }
        return buffers[index].0
    }
}

/// A model compiled for evaluation-mode inference: weights packed once (transposed for row products, every
/// BatchNorm folded into the layer before it, dropout gone, activations fused), activations in reused scratch,
/// no Tensor or Variable per call. Results agree with the autograd path (`Autoencoder.reconstruct`) within 1e-5
/// (InferencePlanTests, every family). Immutable: one plan serves every thread, each with its own scratch.
/// Plans are classes: a pipeline's optional plan is called per window, and a struct plan behind `any InferencePlan`
/// (a boxed existential) was copied at each call.
public protocol InferencePlan: AnyObject, Sendable {
    var seqLen: Int { get }
    var features: Int { get }
    /// The most windows per call for which this plan is the faster path. Plans that run windows one at a time
    /// (convolutions, recurrences, attention) lose to the autograd engine's batched BLAS products on large
    /// batches (ModelBench: Conv1dAE 5.4 µs a window alone vs 1.1 µs a window in a batch of 4096; the limits are
    /// where the two cost the same in that benchmark); callers
    /// score larger batches through the engine, which agrees within 1e-5.
    var largestBatch: Int { get }
    /// Reconstructions of `batch` windows `(B, L, F)` at `x` into `y` (`B·L·F` floats).
    func reconstruct(_ x: UnsafePointer<Float>, batch: Int, into y: UnsafeMutablePointer<Float>, scratch: InferenceScratch)
    /// Hints that the plan's weights will be read soon (``Kernels/prefetch(_:lines:)``); plans without a hint do nothing.
    func prefetch()
}

extension InferencePlan {
    public func prefetch() {}

    /// Reconstructions of windows `(B, L, F)` as a tensor (tests, tools).
    public func reconstruct(_ x: Tensor, scratch: InferenceScratch = InferenceScratch()) -> Tensor {
        precondition(x.rank == 3 && x.shape[1] == seqLen && x.shape[2] == features, "plan (L \(seqLen), F \(features)) of input \(x.shape)")
        var y = Tensor(uninitializedShape: x.shape)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { reconstruct(xp.baseAddress!, batch: x.shape[0], into: $0.baseAddress!, scratch: scratch) }
        }
        return y
    }
}

/// Why a model has no compiled plan.
public struct InferenceCompileError: Error, CustomStringConvertible, Sendable {
    public let model: String, reason: String
    public init(model: String, reason: String) { (self.model, self.reason) = (model, reason) }
    public var description: String { "\(model): no compiled inference plan (\(reason))" }
}

public enum InferenceCompiler {
    /// The plan for `model` in evaluation mode (its current weights and running statistics are copied).
    public static func compile(_ model: any Autoencoder) throws(InferenceCompileError) -> any InferencePlan {
        switch model {
        case let m as VanillaAE:
            return MLPPlan(seqLen: m.seqLen, features: m.nFeatures,
                           chain: try denseChain(m.encoder.layers + m.decoder.layers, model: m.name))
        case let m as MultichannelAE:
            return ChannelMLPPlan(seqLen: m.seqLen, features: m.nFeatures, chains: try (0..<m.nFeatures).map { c throws(InferenceCompileError) in
                try denseChain(m.encoders[c].layers + m.decoders[c].layers, model: m.name)
            })
        case let m as VanillaICAE:
            return ChannelMLPPlan(seqLen: m.seqLen, features: m.nFeatures, chains: try channelChains(m.encoder.layers + m.decoder.layers,
                                                                                                    channels: m.nFeatures, model: m.name))
        case let m as Conv1dAE:
            return ConvPlan(seqLen: m.seqLen, features: m.nFeatures, steps: try convSteps(m.encoder.layers + m.decoder.layers, model: m.name))
        case let m as Conv1dVAE:
            return ConvVAEPlan(m)
        case let m as LSTMAE:
            return LSTMPlan(m)
        case let m as TransformerAE:
            return TransformerPlan(m)
        default:
            throw InferenceCompileError(model: model.name, reason: "no compiler for \(type(of: model))")
        }
    }

    static func activation(_ layer: any Layer) -> Activation? {
        switch layer {
        case is ReLU: .relu
        case is Tanh: .tanh
        case is Sigmoid: .sigmoid
        default: nil
        }
    }

    /// `Linear → [BatchNorm1d] → [activation] → [Dropout]` blocks (Flatten/Unflatten are no-ops on rows).
    static func denseChain(_ layers: [any Layer], model: String) throws(InferenceCompileError) -> [DenseKernel] {
        var out: [DenseKernel] = []
        var pending: (Linear, (scale: [Float], shift: [Float])?, Activation)?
        func flush() {
            if let (l, bn, act) = pending {
                out.append(DenseKernel(weight: l.weight.value, bias: l.bias?.value, scale: bn?.scale, shift: bn?.shift, activation: act))
            }
            pending = nil
        }
        for layer in layers {
            switch layer {
            case let l as Linear:
                flush()
                pending = (l, nil, .identity)
            case let bn as BatchNorm1d:
                guard pending != nil, pending!.1 == nil, pending!.2 == .identity else {
                    throw InferenceCompileError(model: model, reason: "BatchNorm1d not right after a Linear")
                }
                pending!.1 = foldedBatchNorm(weight: bn.weight.value, bias: bn.bias.value, mean: bn.runningMean.tensor,
                                             variance: bn.runningVar.tensor, eps: bn.eps)
            case is Dropout, is Flatten, is Unflatten:
                continue
            default:
                guard let a = activation(layer), pending != nil, pending!.2 == .identity else {
                    throw InferenceCompileError(model: model, reason: "unexpected \(type(of: layer)) in a dense chain")
                }
                pending!.2 = a
            }
        }
        flush()
        return out
    }

    /// `IndependentChannelLinear → [BatchNorm1d(C)] → [activation] → [Dropout]` blocks as one dense chain per channel.
    static func channelChains(_ layers: [any Layer], channels: Int, model: String) throws(InferenceCompileError) -> [[DenseKernel]] {
        var blocks: [(IndependentChannelLinear, (scale: [Float], shift: [Float])?, Activation)] = []
        for layer in layers {
            switch layer {
            case let l as IndependentChannelLinear: blocks.append((l, nil, .identity))
            case let bn as BatchNorm1d:
                guard !blocks.isEmpty, blocks[blocks.count - 1].1 == nil else {
                    throw InferenceCompileError(model: model, reason: "BatchNorm1d not right after a channel linear")
                }
                blocks[blocks.count - 1].1 = foldedBatchNorm(weight: bn.weight.value, bias: bn.bias.value, mean: bn.runningMean.tensor,
                                                             variance: bn.runningVar.tensor, eps: bn.eps)
            case is Dropout: continue
            default:
                guard let a = activation(layer), !blocks.isEmpty, blocks[blocks.count - 1].2 == .identity else {
                    throw InferenceCompileError(model: model, reason: "unexpected \(type(of: layer)) in a channel chain")
                }
                blocks[blocks.count - 1].2 = a
            }
        }
        return (0..<channels).map { c in
            blocks.map { l, bn, act in
                let w = l.weight.value, (i, o) = (w.shape[1], w.shape[2])
                // (C, in, out): channel c's block is already (in, out); as a Linear weight it is its transpose.
                let block = w.scalars[(c * i * o)..<((c + 1) * i * o)]
                var packed = [Float](repeating: 0, count: i * o)
                for r in 0..<i { for q in 0..<o { packed[q * i + r] = block[block.startIndex + r * o + q] } }
                let wc = Tensor(shape: [o, i], scalars: packed)
                let bc = Tensor(shape: [o], scalars: Array(l.bias.value.scalars[(c * o)..<((c + 1) * o)]))
                let scale = bn.map { [Float](repeating: $0.scale[c], count: o) }
                let shift = bn.map { [Float](repeating: $0.shift[c], count: o) }
                return DenseKernel(weight: wc, bias: bc, scale: scale, shift: shift, activation: act)
            }
        }
    }

    static func convSteps(_ layers: [any Layer], model: String) throws(InferenceCompileError) -> [ConvPlan.Step] {
        var steps: [ConvPlan.Step] = []
        func bn(_ b: BatchNorm1d) -> (scale: [Float], shift: [Float]) {
            foldedBatchNorm(weight: b.weight.value, bias: b.bias.value, mean: b.runningMean.tensor, variance: b.runningVar.tensor, eps: b.eps)
        }
        for layer in layers {
            switch layer {
            case let b as ConvBlock:
                let f = bn(b.bnorm)
                steps.append(.conv(ConvKernel(conv: b.conv.weight.value, bias: b.conv.bias?.value, stride: b.conv.stride, padBefore: b.conv.padding,
                                              padAfter: b.conv.padding, dilation: b.conv.dilation, scale: f.scale, shift: f.shift, activation: .relu)))
            case let c as Conv1d:
                steps.append(.conv(ConvKernel(conv: c.weight.value, bias: c.bias?.value, stride: c.stride, padBefore: c.padding,
                                              padAfter: c.padding, dilation: c.dilation, activation: .identity)))
            case let b as ConvTransposeBlock:
                let f = bn(b.bnorm), c = b.convtranspose
                steps.append(.conv(ConvKernel(transposed: c.weight.value, bias: c.bias?.value, stride: c.stride, padding: c.padding,
                                              outputPadding: c.outputPadding, dilation: c.dilation, scale: f.scale, shift: f.shift, activation: .relu)))
            case let c as ConvTranspose1d:
                steps.append(.conv(ConvKernel(transposed: c.weight.value, bias: c.bias?.value, stride: c.stride, padding: c.padding,
                                              outputPadding: c.outputPadding, dilation: c.dilation, activation: .identity)))
            case let p as MaxPool1d:
                guard p.stride == p.kernelSize, p.padding == 0 else {
                    throw InferenceCompileError(model: model, reason: "MaxPool1d with stride ≠ kernel or padding")
                }
                steps.append(.maxPool(p.kernelSize))
            case let u as Upsample:
                steps.append(.upsample(u.scaleFactor))
            default:
                guard let a = activation(layer), case .conv(var k)? = steps.last, k.activation == .identity else {
                    throw InferenceCompileError(model: model, reason: "unexpected \(type(of: layer)) in a convolution stack")
                }
                k.activation = a
                steps[steps.count - 1] = .conv(k)
            }
        }
        return steps
    }
}

// MARK: families

/// VanillaAE / SparseVanillaAE: the window feature-major `(F·L)`, one dense chain, back to `(L, F)`.
final class MLPPlan: InferencePlan {
    var largestBatch: Int { 64 }
    let seqLen: Int, features: Int
    let chain: PackedDenseChain
    let widest: Int

    init(seqLen: Int, features: Int, chain: [DenseKernel]) {
        (self.seqLen, self.features, self.chain) = (seqLen, features, PackedDenseChain(chain))
        widest = chain.map(\.outputs).max().map { Swift.max($0, seqLen * features) } ?? seqLen * features
    }

    func prefetch() { chain.prefetch() }

    func reconstruct(_ x: UnsafePointer<Float>, batch: Int, into y: UnsafeMutablePointer<Float>, scratch: InferenceScratch) {
        var a = scratch.buffer(0, batch * widest), b = scratch.buffer(1, batch * widest)
        InferenceOps.transpose(x, items: batch, rows: seqLen, cols: features, a)
        chain.run(&a, &b, rows: batch)
        InferenceOps.transpose(a, items: batch, rows: features, cols: seqLen, y)
    }
}

/// MultichannelAE and VanillaICAE: each channel's `L` values through its own dense chain.
final class ChannelMLPPlan: InferencePlan {
    var largestBatch: Int { 32 }
    let seqLen: Int, features: Int
    let chains: [PackedDenseChain]
    let widest: Int

    init(seqLen: Int, features: Int, chains: [[DenseKernel]]) {
        (self.seqLen, self.features, self.chains) = (seqLen, features, chains.map(PackedDenseChain.init))
        widest = Swift.max(seqLen, chains.flatMap { $0.map(\.outputs) }.max() ?? seqLen)
    }

    func reconstruct(_ x: UnsafePointer<Float>, batch: Int, into y: UnsafeMutablePointer<Float>, scratch: InferenceScratch) {
        let (l, f) = (seqLen, features)
        for c in 0..<f {
            var a = scratch.buffer(0, batch * widest), b = scratch.buffer(1, batch * widest)
            for i in 0..<batch { for t in 0..<l { a[i * l + t] = x[(i * l + t) * f + c] } }
            chains[c].run(&a, &b, rows: batch)
            for i in 0..<batch { for t in 0..<l { y[(i * l + t) * f + c] = a[i * l + t] } }
        }
    }
}

/// Conv1dAE / SparseConv1dAE: per window `(F, L)` through convolutions, pools and upsamplings.
final class ConvPlan: InferencePlan {
    var largestBatch: Int { 4 }
    enum Step: Sendable {
        case conv(ConvKernel)
        case maxPool(Int)
        case upsample(Float)
    }

    let seqLen: Int, features: Int
    let steps: [Step]
    let widest: Int

    init(seqLen: Int, features: Int, steps: [Step]) {
        (self.seqLen, self.features, self.steps) = (seqLen, features, steps)
        var (c, l) = (features, seqLen), w = c * l
        for s in steps {
            switch s {
            case .conv(let k): (c, l) = (k.outChannels, k.outputLength(l))
            case .maxPool(let k): l = (l - k) / k + 1
            case .upsample(let f): l = Int((Float(l) * f).rounded(.down))
            }
            w = Swift.max(w, c * l)
        }
        widest = w
    }

    func reconstruct(_ x: UnsafePointer<Float>, batch: Int, into y: UnsafeMutablePointer<Float>, scratch: InferenceScratch) {
        let n = seqLen * features
        for i in 0..<batch {
            var a = scratch.buffer(0, widest), b = scratch.buffer(1, widest)
            InferenceOps.transpose(x + i * n, items: 1, rows: seqLen, cols: features, a)
            var (c, l) = (features, seqLen)
            for s in steps {
                switch s {
                case .conv(let k):
                    k.run(a, length: l, b)
                    (c, l) = (k.outChannels, k.outputLength(l))
                case .maxPool(let k):
                    InferenceOps.maxPool(a, rows: c, length: l, kernel: k, b)
                    l = (l - k) / k + 1
                case .upsample(let f):
                    InferenceOps.upsampleLinear(a, rows: c, length: l, scale: f, b)
                    l = Int((Float(l) * f).rounded(.down))
                }
                swap(&a, &b)
            }
            InferenceOps.transpose(a, items: 1, rows: features, cols: seqLen, y + i * n)
        }
    }
}

/// Conv1dVAE at z = μ: causal convolutions, encoder fc, μ, decoder fc, transposed convolution, fc_out, td_linear.
final class ConvVAEPlan: InferencePlan {
    var largestBatch: Int { 8 }
    let seqLen: Int, features: Int
    let blocks: [ConvKernel]
    let encoderFC: DenseKernel, mu: DenseKernel, decoderFC: DenseKernel
    let convTranspose: ConvKernel
    let fcOut: DenseKernel, tdLinear: DenseKernel
    let decoderChannels: Int
    let widest: Int

    init(_ m: Conv1dVAE) {
        (seqLen, features) = (m.seqLen, m.nFeatures)
        blocks = m.convBlocks.map { b in
            let f = foldedBatchNorm(weight: b.bnorm.weight.value, bias: b.bnorm.bias.value, mean: b.bnorm.runningMean.tensor,
                                    variance: b.bnorm.runningVar.tensor, eps: b.bnorm.eps)
            return ConvKernel(conv: b.conv.weight.value, bias: b.conv.bias?.value, stride: b.conv.stride,
                              padBefore: (b.conv.weight.shape[2] - 1) * b.conv.dilation, padAfter: 0, dilation: b.conv.dilation,
                              scale: f.scale, shift: f.shift, activation: .relu)
        }
        encoderFC = DenseKernel(weight: m.encoderFC.weight.value, bias: m.encoderFC.bias?.value, activation: .relu)
        mu = DenseKernel(weight: m.mu.weight.value, bias: m.mu.bias?.value)
        decoderFC = DenseKernel(weight: m.decoderFC.weight.value, bias: m.decoderFC.bias?.value, activation: .relu)
        let n = m.decoderNorm
        let f = foldedBatchNorm(weight: n.weight.value, bias: n.bias.value, mean: n.runningMean.tensor, variance: n.runningVar.tensor, eps: n.eps)
        let c = m.convTranspose
        convTranspose = ConvKernel(transposed: c.weight.value, bias: c.bias?.value, stride: c.stride, padding: c.padding,
                                   outputPadding: c.outputPadding, dilation: c.dilation, scale: f.scale, shift: f.shift, activation: .relu)
        fcOut = DenseKernel(weight: m.fcOut.weight.value, bias: m.fcOut.bias?.value, activation: .relu)
        tdLinear = DenseKernel(weight: m.tdLinear.weight.value, bias: m.tdLinear.bias?.value)
        decoderChannels = m.convChannels[0]
        var (ch, l) = (features, seqLen), w = ch * l
        for b in blocks { (ch, l) = (b.outChannels, b.outputLength(l)); w = Swift.max(w, ch * l) }
        widest = Swift.max(w, encoderFC.outputs, mu.outputs, decoderFC.outputs, features * 12, features * seqLen)
    }

    func reconstruct(_ x: UnsafePointer<Float>, batch: Int, into y: UnsafeMutablePointer<Float>, scratch: InferenceScratch) {
        let n = seqLen * features
        for i in 0..<batch {
            var a = scratch.buffer(0, widest), b = scratch.buffer(1, widest)
            InferenceOps.transpose(x + i * n, items: 1, rows: seqLen, cols: features, a)
            var l = seqLen
            for k in blocks {
                k.run(a, length: l, b)
                l = k.outputLength(l)
                swap(&a, &b)
            }
            encoderFC.run(a, rows: 1, b)
            mu.run(b, rows: 1, a)
            decoderFC.run(a, rows: 1, b)                      // (C0·6) = (C0, 6)
            convTranspose.run(b, length: 6, a)                // (F, 12)
            fcOut.run(a, rows: features, b)                   // (F, L)
            InferenceOps.transpose(b, items: 1, rows: features, cols: seqLen, a)   // (L, F)
            tdLinear.run(a, rows: seqLen, y + i * n)
        }
    }
}

/// One LSTM stack (PyTorch gate order, zero initial state) for inference.
struct LSTMStack: Sendable {
    struct Layer: Sendable {
        let input: DenseKernel       // W_ih with both biases
        let recurrent: DenseKernel   // W_hh without bias; its packed weightᵀ (H, 4H) is added step by step
    }
    let hidden: Int
    let layers: [Layer]

    init(_ lstm: LSTM) {
        hidden = lstm.hiddenSize
        layers = lstm.layers.map { w in
            var bias = w.biasIH?.value.scalars ?? [Float](repeating: 0, count: 4 * lstm.hiddenSize)
            if let hh = w.biasHH?.value.scalars { for i in bias.indices { bias[i] += hh[i] } }
            return Layer(input: DenseKernel(weight: w.weightIH.value, bias: Tensor(shape: [4 * lstm.hiddenSize], scalars: bias)),
                         recurrent: DenseKernel(weight: w.weightHH.value, bias: nil))
        }
    }

    /// Runs `steps` steps of one sequence. `x` holds `steps` input rows, or one row used at every step when
    /// `repeated`; `out` receives the last layer's `h` rows (`steps × H`).
    func run(_ x: UnsafePointer<Float>, steps: Int, repeated: Bool, out: UnsafeMutablePointer<Float>, scratch: InferenceScratch, base: Int) {
        let h = hidden, g4 = 4 * h
        let pre = scratch.buffer(base, steps * g4 + Kernels.densePadding)   // (read in whole vectors: see Kernels.dense)
        let state = scratch.buffer(base + 1, 2 * h)          // [h | c]
        let next = scratch.buffer(base + 2, 2 * h)
        let tanhC = scratch.buffer(base + 3, h)
        let gates = scratch.buffer(base + 4, g4)
        var layerInput = x, inputRepeated = repeated
        for (k, layer) in layers.enumerated() {
            if inputRepeated {
                layer.input.run(layerInput, rows: 1, pre)
            } else {
                layer.input.run(layerInput, rows: steps, pre)
            }
            let dst = k == layers.count - 1 ? out : scratch.buffer(base + 5 + (k % 2), steps * h)
            layer.recurrent.params.withUnsafeBufferPointer { wp in   // (the weight first, padded)
                let w = wp.baseAddress!
                for t in 0..<steps {
                    let input = pre + (inputRepeated ? 0 : t * g4)
                    if t > 0 {
                        // gates = input part + h_{t-1} · W_hh (the input part as the dense kernel's bias: `pre` is padded)
                        Kernels.dense(rows: 1, inputs: h, outputs: g4, x: state, weight: w, bias: input, y: gates, activation: .identity)
                    } else {
                        gates.update(from: input, count: g4)
                    }
                    Kernels.lstmForwardStep(batch: 1, hidden: h, gates: gates, gatesStride: g4, cPrev: t > 0 ? UnsafePointer(state + h) : nil,
                                            cPrevStride: 2 * h, out: next, outStride: 2 * h, tanhC: tanhC, tanhCStride: h)
                    state.update(from: next, count: 2 * h)
                    (dst + t * h).update(from: next, count: h)
                }
            }
            layerInput = UnsafePointer(dst)
            inputRepeated = false
        }
    }
}

/// LSTMAE / SparseLSTMAE: the encoder's final `h` repeated through the decoder, then the per-step fc.
final class LSTMPlan: InferencePlan {
    var largestBatch: Int { 4 }
    let seqLen: Int, features: Int
    let encoder: LSTMStack, decoder: LSTMStack
    let fc: DenseKernel

    init(_ m: LSTMAE) {
        (seqLen, features) = (m.seqLen, m.nFeatures)
        encoder = LSTMStack(m.encoderLSTM)
        decoder = LSTMStack(m.decoderLSTM)
        fc = DenseKernel(weight: m.fc.weight.value, bias: m.fc.bias?.value)
    }

    func reconstruct(_ x: UnsafePointer<Float>, batch: Int, into y: UnsafeMutablePointer<Float>, scratch: InferenceScratch) {
        let (l, f, e) = (seqLen, features, encoder.hidden)
        let encoded = scratch.buffer(0, l * e), decoded = scratch.buffer(1, l * decoder.hidden)
        for i in 0..<batch {
            encoder.run(x + i * l * f, steps: l, repeated: false, out: encoded, scratch: scratch, base: 2)
            decoder.run(encoded + (l - 1) * e, steps: l, repeated: true, out: decoded, scratch: scratch, base: 10)
            fc.run(decoded, rows: l, y + i * l * f)
        }
    }
}

/// One residual attention block: `LayerNorm(q + Linear(concat_h softmax(Q_h K_hᵀ/√d) V_h))`.
struct AttentionBlock: Sendable {
    let queries: [DenseKernel], keys: [DenseKernel], values: [DenseKernel]
    let linear: DenseKernel
    let normWeight: [Float], normBias: [Float], eps: Float
    var headWidth: Int { queries[0].outputs }

    init(_ r: ResidualAttention) {
        let heads = r.sublayer.heads.modules
        queries = heads.map { DenseKernel(weight: $0.query.weight.value, bias: $0.query.bias?.value) }
        keys = heads.map { DenseKernel(weight: $0.key.weight.value, bias: $0.key.bias?.value) }
        values = heads.map { DenseKernel(weight: $0.value.weight.value, bias: $0.value.bias?.value) }
        linear = DenseKernel(weight: r.sublayer.linear.weight.value, bias: r.sublayer.linear.bias?.value)
        (normWeight, normBias, eps) = (r.norm.weight.value.scalars, r.norm.bias.value.scalars, r.norm.eps)
    }

    /// `q`, `kv`: `tokens × width` rows; the result replaces `q`'s rows in `out`.
    func run(_ q: UnsafePointer<Float>, _ kv: UnsafePointer<Float>, tokens t: Int, width w: Int, out: UnsafeMutablePointer<Float>,
             scratch: InferenceScratch) {
        let d = headWidth, hw = queries.count * d
        let qh = scratch.buffer(40, t * d), kh = scratch.buffer(41, t * d), vh = scratch.buffer(42, t * d)
        let scores = scratch.buffer(43, t * t), concat = scratch.buffer(44, t * hw)
        let scale = 1 / Float(d).squareRoot()
        for h in queries.indices {
            queries[h].run(q, rows: t, qh)
            keys[h].run(kv, rows: t, kh)
            values[h].run(kv, rows: t, vh)
            for i in 0..<t {
                let s = scores + i * t
                var m = -Float.infinity
                for j in 0..<t {
                    var acc: Float = 0
                    for c in 0..<d { acc += qh[i * d + c] * kh[j * d + c] }
                    s[j] = acc * scale
                    m = Swift.max(m, s[j])
                }
                var total: Float = 0
                for j in 0..<t { s[j] = ScalarMath.fastExp(s[j] - m); total += s[j] }
                let inv = 1 / total
                for j in 0..<t { s[j] *= inv }
                let o = concat + i * hw + h * d
                o.update(repeating: 0, count: d)
                for j in 0..<t { let p = s[j]; for c in 0..<d { o[c] += p * vh[j * d + c] } }
            }
        }
        linear.run(concat, rows: t, out)
        for i in 0..<(t * w) { out[i] += q[i] }
        InferenceOps.layerNorm(out, rows: t, width: w, weight: normWeight, bias: normBias, eps: eps)
    }
}

/// `LayerNorm(x + W₂ relu(W₁ x + b₁) + b₂)`.
struct FeedForwardBlock: Sendable {
    let first: DenseKernel, second: DenseKernel
    let normWeight: [Float], normBias: [Float], eps: Float

    init(_ r: ResidualFeedForward) {
        let linears = r.sublayer.layers.compactMap { $0 as? Linear }
        first = DenseKernel(weight: linears[0].weight.value, bias: linears[0].bias?.value, activation: .relu)
        second = DenseKernel(weight: linears[1].weight.value, bias: linears[1].bias?.value)
        (normWeight, normBias, eps) = (r.norm.weight.value.scalars, r.norm.bias.value.scalars, r.norm.eps)
    }

    /// In place on `tokens × width` rows.
    func run(_ x: UnsafeMutablePointer<Float>, tokens t: Int, width w: Int, scratch: InferenceScratch) {
        let hidden = scratch.buffer(45, t * first.outputs), y = scratch.buffer(46, t * w)
        first.run(x, rows: t, hidden)
        second.run(hidden, rows: t, y)
        for i in 0..<(t * w) { x[i] += y[i] }
        InferenceOps.layerNorm(x, rows: t, width: w, weight: normWeight, bias: normBias, eps: eps)
    }
}

/// TransformerAE / SparseTransformerAE: features are the tokens, the window's `L` values their width.
final class TransformerPlan: InferencePlan {
    var largestBatch: Int { 16 }
    let seqLen: Int, features: Int
    let positional: [Float]
    let encoder: [(AttentionBlock, FeedForwardBlock)]
    let decoder: [(AttentionBlock, AttentionBlock, FeedForwardBlock)]
    let output: DenseKernel

    init(_ m: TransformerAE) {
        (seqLen, features) = (m.seqLen, m.nFeatures)
        positional = m.positionalEncoding.scalars
        encoder = m.encoderLayers.modules.map { (AttentionBlock($0.attention), FeedForwardBlock($0.feedForward)) }
        decoder = m.decoderLayers.modules.map { (AttentionBlock($0.attention1), AttentionBlock($0.attention2), FeedForwardBlock($0.feedForward)) }
        output = DenseKernel(weight: m.outputLinear.weight.value, bias: m.outputLinear.bias?.value)
    }

    func reconstruct(_ x: UnsafePointer<Float>, batch: Int, into y: UnsafeMutablePointer<Float>, scratch: InferenceScratch) {
        let (t, w) = (features, seqLen), n = t * w
        let tokens = scratch.buffer(30, n), memory = scratch.buffer(31, n), other = scratch.buffer(32, n), target = scratch.buffer(33, n)
        for i in 0..<batch {
            InferenceOps.transpose(x + i * n, items: 1, rows: w, cols: t, tokens)
            for j in 0..<n { tokens[j] += positional[j] }
            memory.update(from: tokens, count: n)
            for (attention, feedForward) in encoder {
                attention.run(memory, memory, tokens: t, width: w, out: other, scratch: scratch)
                feedForward.run(other, tokens: t, width: w, scratch: scratch)
                memory.update(from: other, count: n)
            }
            target.update(from: tokens, count: n)
            for (selfAttention, crossAttention, feedForward) in decoder {
                selfAttention.run(target, target, tokens: t, width: w, out: other, scratch: scratch)
                crossAttention.run(other, memory, tokens: t, width: w, out: target, scratch: scratch)
                feedForward.run(target, tokens: t, width: w, scratch: scratch)
            }
            output.run(target, rows: t, other)
            InferenceOps.transpose(other, items: 1, rows: t, cols: w, y + i * n)
        }
    }
}
