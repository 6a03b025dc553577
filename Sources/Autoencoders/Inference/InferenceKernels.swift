import TensorCore

/// An activation fused into the kernel that produces its input (same formulas as the autograd ops).
public enum Activation: Sendable, Equatable {
    case identity, relu, tanh, sigmoid

    @inline(__always)
    func apply(_ y: UnsafeMutablePointer<Float>, _ n: Int) {
        switch self {
        case .identity: break
        case .relu: for i in 0..<n { y[i] = Swift.max(y[i], 0) }
        case .tanh: for i in 0..<n { y[i] = ScalarMath.fastTanh(y[i]) }
        case .sigmoid: for i in 0..<n { y[i] = ScalarMath.fastSigmoid(y[i]) }
        }
    }
}

/// A fully connected layer packed for inference: the weight transposed to `(in, out)` so that a row's product
/// is a sum of scaled weight rows, any BatchNorm that follows folded in, and the activation fused. Products of
/// a few rows go to ``Kernels/dense(rows:inputs:outputs:x:weight:bias:y:activation:isa:)``, of many to BLAS.
struct DenseKernel: Sendable {
    let inputs: Int, outputs: Int
    /// The weight `(in, out)`, then the bias `(out)`, then ``Kernels/densePadding`` zeros.
    let params: [Float]
    let activation: Activation

    /// `weight` `(out, in)` as PyTorch stores it; `scale`/`shift` (per output) are a folded BatchNorm.
    init(weight: Tensor, bias: Tensor?, scale: [Float]? = nil, shift: [Float]? = nil, activation: Activation = .identity) {
        precondition(weight.rank == 2, "dense weight \(weight.shape)")
        let (o, i) = (weight.shape[0], weight.shape[1])
        var p = [Float](repeating: 0, count: i * o + o + Kernels.densePadding)
        let b = bias?.scalars ?? [Float](repeating: 0, count: o)
        let w = weight.scalars
        for r in 0..<o {
            let s = scale?[r] ?? 1
            for c in 0..<i { p[c * o + r] = w[r * i + c] * s }
            p[i * o + r] = b[r] * s + (shift?[r] ?? 0)
        }
        (inputs, outputs, params, self.activation) = (i, o, p, activation)
    }

    /// The weight and the bias, without the padding.
    var weightAndBias: ArraySlice<Float> { params[..<(inputs * outputs + outputs)] }

    /// `y[r] = act(x[r] · W + b)` for `rows` rows of `inputs` floats (strides: the row widths).
    func run(_ x: UnsafePointer<Float>, rows: Int, _ y: UnsafeMutablePointer<Float>) {
        params.withUnsafeBufferPointer { p in
            Self.apply(weightT: p.baseAddress!, bias: p.baseAddress! + inputs * outputs, inputs: inputs, outputs: outputs,
                       activation: activation, x, rows: rows, y)
        }
    }

    /// The kernel on raw parameters: `weightT` `(inputs, outputs)`, `bias` `(outputs)`, in memory readable
    /// ``Kernels/densePadding`` floats past the end of each.
    @inline(__always)
    static func apply(weightT w: UnsafePointer<Float>, bias b: UnsafePointer<Float>, inputs ni: Int, outputs no: Int, activation: Activation,
                      _ x: UnsafePointer<Float>, rows: Int, _ y: UnsafeMutablePointer<Float>) {
        if rows >= 8 && ni * no >= 256 {
            for r in 0..<rows { (y + r * no).update(from: b, count: no) }
            BLAS.sgemm(transposeA: false, transposeB: false, m: rows, n: no, k: ni, a: x, lda: ni, b: w, ldb: no,
                       beta: 1, c: y, ldc: no)
            activation.apply(y, rows * no)
        } else {
            let fused: Kernels.DenseActivation = switch activation {
            case .relu: .relu
            case .tanh: .tanh
            case .identity, .sigmoid: .identity
            }
            Kernels.dense(rows: rows, inputs: ni, outputs: no, x: x, weight: w, bias: b, y: y, activation: fused)
            if activation == .sigmoid { activation.apply(y, rows * no) }
        }
    }
}

/// A chain of dense kernels with every parameter in one array and the layers as plain offsets into it, so
/// running the chain retains one array instead of two per layer (per window with a model per key, those
/// retains touched cold cache lines and were the daemon's largest reference-counting cost).
struct PackedDenseChain: Sendable {
    struct Layer: Sendable {
        let inputs: Int, outputs: Int, weight: Int, bias: Int
        let activation: Activation
    }
    /// Every layer's weight and bias, then ``Kernels/densePadding`` zeros.
    let params: [Float]
    let layers: [Layer]

    init(_ kernels: [DenseKernel]) {
        var p: [Float] = [], l: [Layer] = []
        for k in kernels {
            l.append(Layer(inputs: k.inputs, outputs: k.outputs, weight: p.count, bias: p.count + k.inputs * k.outputs, activation: k.activation))
            p += k.weightAndBias
        }
        p += repeatElement(0, count: Kernels.densePadding)
        (params, layers) = (p, l)
    }

    /// Hints that the layers and the parameters will be read soon: all of a small model's (a VanillaAE(12, 3) has
    /// 6 KB), the first 8 KB of a larger one's (the hardware follows a stream once it has started); the parameters
    /// into the second-level cache (``Kernels/prefetchToL2(_:lines:)``).
    func prefetch() {
        layers.withUnsafeBufferPointer { Kernels.prefetch($0.baseAddress!) }
        params.withUnsafeBufferPointer { Kernels.prefetchToL2($0.baseAddress!, lines: Swift.min(128, ($0.count * 4 + 63) / 64)) }
    }

    /// Runs the chain on `rows` rows in `a`, using `b` as the other buffer; the output is in `a` afterwards.
    func run(_ a: inout UnsafeMutablePointer<Float>, _ b: inout UnsafeMutablePointer<Float>, rows: Int) {
        params.withUnsafeBufferPointer { pp in
            layers.withUnsafeBufferPointer { ls in
                let p = pp.baseAddress!
                for i in ls.indices {
                    let l = ls[i]
                    DenseKernel.apply(weightT: p + l.weight, bias: p + l.bias, inputs: l.inputs, outputs: l.outputs, activation: l.activation,
                                      a, rows: rows, b)
                    swap(&a, &b)
                }
            }
        }
    }
}

/// BatchNorm1d in evaluation as a per-channel affine map: `scale = γ/√(var+eps)`, `shift = β − mean·scale`.
func foldedBatchNorm(weight: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, eps: Float) -> (scale: [Float], shift: [Float]) {
    let (g, b, m, v) = (weight.scalars, bias.scalars, mean.scalars, variance.scalars)
    var scale = [Float](repeating: 0, count: g.count), shift = scale
    for c in 0..<g.count {
        scale[c] = g[c] / (v[c] + eps).squareRoot()
        shift[c] = b[c] - m[c] * scale[c]
    }
    return (scale, shift)
}

/// `Conv1d` (or, with `transposed`, `ConvTranspose1d`) on one item `(Cin, Lin)` → `(Cout, Lout)`, with a folded
/// BatchNorm and a fused activation. Padding may differ before and after (the causal blocks pad only before).
/// Run as a dense layer over the item's patches: each output position's `k · Cin` inputs are gathered into a row
/// (a transposed convolution reads its input with `stride − 1` zeros between values and its taps reversed), and the
/// rows go through ``DenseKernel/apply(weightT:bias:inputs:outputs:activation:_:rows:_:)`` at once.
struct ConvKernel: Sendable {
    let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, dilation: Int
    let padBefore: Int, padAfter: Int, outputPadding: Int
    let transposed: Bool
    /// The weight as a dense layer `(k · Cin, Cout)` (row `j · Cin + ci`: tap `j` of input channel `ci`, reversed for a
    /// transposed convolution), then the bias `(Cout)`, then ``Kernels/densePadding`` zeros.
    let packed: [Float]
    var activation: Activation

    init(conv weight: Tensor, bias: Tensor?, stride: Int, padBefore: Int, padAfter: Int, dilation: Int,
         scale: [Float]? = nil, shift: [Float]? = nil, activation: Activation) {
        (outChannels, inChannels, kernel) = (weight.shape[0], weight.shape[1], weight.shape[2])
        (self.stride, self.dilation, self.padBefore, self.padAfter, outputPadding, transposed) = (stride, dilation, padBefore, padAfter, 0, false)
        let (w, b) = ConvKernel.fold(weight.scalars, bias?.scalars, outChannels, inChannels * kernel, scale, shift)
        packed = ConvKernel.pack(w, b, outChannels, inChannels, kernel, reversed: false)
        self.activation = activation
    }

    init(transposed weight: Tensor, bias: Tensor?, stride: Int, padding: Int, outputPadding: Int, dilation: Int,
         scale: [Float]? = nil, shift: [Float]? = nil, activation: Activation) {
        (inChannels, outChannels, kernel) = (weight.shape[0], weight.shape[1], weight.shape[2])
        (self.stride, self.dilation, padBefore, padAfter, self.outputPadding, transposed) = (stride, dilation, padding, padding, outputPadding, true)
        let w = weight.scalars
        var byOutput = [Float](repeating: 0, count: w.count)   // (Cout, Cin, k), as a convolution's
        for ci in 0..<inChannels { for co in 0..<outChannels { for j in 0..<kernel {
            byOutput[(co * inChannels + ci) * kernel + j] = w[(ci * outChannels + co) * kernel + j]
        } } }
        let (f, b) = ConvKernel.fold(byOutput, bias?.scalars, outChannels, inChannels * kernel, scale, shift)
        packed = ConvKernel.pack(f, b, outChannels, inChannels, kernel, reversed: true)
        self.activation = activation
    }

    static func fold(_ w: [Float], _ b: [Float]?, _ cout: Int, _ per: Int, _ scale: [Float]?, _ shift: [Float]?) -> ([Float], [Float]) {
        var w = w, b = b ?? [Float](repeating: 0, count: cout)
        guard let scale else { return (w, b) }
        for co in 0..<cout {
            for i in 0..<per { w[co * per + i] *= scale[co] }
            b[co] = b[co] * scale[co] + (shift?[co] ?? 0)
        }
        return (w, b)
    }

    /// `(Cout, Cin, k)` weights and the bias as ``packed``.
    static func pack(_ w: [Float], _ b: [Float], _ cout: Int, _ cin: Int, _ k: Int, reversed: Bool) -> [Float] {
        var p = [Float](repeating: 0, count: k * cin * cout + cout + Kernels.densePadding)
        for co in 0..<cout { for ci in 0..<cin { for j in 0..<k {
            p[((reversed ? k - 1 - j : j) * cin + ci) * cout + co] = w[(co * cin + ci) * k + j]
        } } }
        for co in 0..<cout { p[k * cin * cout + co] = b[co] }
        return p
    }

    func outputLength(_ lin: Int) -> Int {
        transposed ? (lin - 1) * stride - 2 * padBefore + dilation * (kernel - 1) + outputPadding + 1
            : (lin + padBefore + padAfter - dilation * (kernel - 1) - 1) / stride + 1
    }

    /// One item: `x` `(Cin, lin)` → `y` `(Cout, outputLength(lin))`.
    func run(_ x: UnsafePointer<Float>, length lin: Int, _ y: UnsafeMutablePointer<Float>) {
        let lout = outputLength(lin), width = kernel * inChannels
        withUnsafeTemporaryAllocation(of: Float.self, capacity: lin * inChannels + lout * width + lout * outChannels) { memory in
            let rows = memory.baseAddress!, patches = rows + lin * inChannels, out = patches + lout * width
            InferenceOps.transpose(x, items: 1, rows: inChannels, cols: lin, rows)   // (lin, Cin): a position's channels together
            // Where tap 0 of output 0 reads: a convolution from −padBefore; a transposed one, in its input with zeros
            // between values, from −(d·(k − 1) − padding).
            let origin = transposed ? padBefore - dilation * (kernel - 1) : -padBefore
            for o in 0..<lout {
                for j in 0..<kernel {
                    let dst = patches + o * width + j * inChannels
                    let q = (transposed ? o : o * stride) + origin + j * dilation
                    let t = transposed ? (q >= 0 && q % stride == 0 ? q / stride : -1) : q
                    if t >= 0 && t < lin { dst.update(from: rows + t * inChannels, count: inChannels) } else { dst.update(repeating: 0, count: inChannels) }
                }
            }
            packed.withUnsafeBufferPointer { p in
                DenseKernel.apply(weightT: p.baseAddress!, bias: p.baseAddress! + width * outChannels, inputs: width, outputs: outChannels,
                                  activation: activation, patches, rows: lout, out)
            }
            InferenceOps.transpose(out, items: 1, rows: lout, cols: outChannels, y)
        }
    }
}

/// Small element-wise and shape kernels over raw rows.
enum InferenceOps {
    /// Per item: `(rows, cols)` → `(cols, rows)`.
    static func transpose(_ x: UnsafePointer<Float>, items: Int, rows: Int, cols: Int, _ y: UnsafeMutablePointer<Float>) {
        let n = rows * cols
        for b in 0..<items {
            let xi = x + b * n, yi = y + b * n
            for r in 0..<rows { for c in 0..<cols { yi[c * rows + r] = xi[r * cols + c] } }
        }
    }

    /// `MaxPool1d(k, stride k)` over `rows` rows of `length` → `length / k` each.
    static func maxPool(_ x: UnsafePointer<Float>, rows: Int, length: Int, kernel: Int, _ y: UnsafeMutablePointer<Float>) {
        let lout = (length - kernel) / kernel + 1
        for r in 0..<rows {
            for o in 0..<lout {
                var m = -Float.infinity
                for j in 0..<kernel { let v = x[r * length + o * kernel + j]; m = v > m || v.isNaN ? v : m }
                y[r * lout + o] = m
            }
        }
    }

    /// `Upsample(scale, linear, align_corners false)` over `rows` rows.
    static func upsampleLinear(_ x: UnsafePointer<Float>, rows: Int, length: Int, scale: Float, _ y: UnsafeMutablePointer<Float>) {
        let lout = Int((Float(length) * scale).rounded(.down))
        let ratio = 1 / scale
        for i in 0..<lout {
            let src = Swift.max(0, ratio * (Float(i) + 0.5) - 0.5)
            let i0 = Swift.min(Int(src), length - 1)
            let i1 = i0 < length - 1 ? i0 + 1 : i0
            let w1 = src - Float(i0)
            for r in 0..<rows { y[r * lout + i] = (1 - w1) * x[r * length + i0] + w1 * x[r * length + i1] }
        }
    }

    /// LayerNorm over rows of `width` (biased variance), in place.
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, weight: [Float], bias: [Float], eps: Float) {
        for r in 0..<rows {
            let row = x + r * width
            var mean: Float = 0
            for i in 0..<width { mean += row[i] }
            mean /= Float(width)
            var variance: Float = 0
            for i in 0..<width { let d = row[i] - mean; variance += d * d }
            variance /= Float(width)
            let inv = 1 / (variance + eps).squareRoot()
            for i in 0..<width { row[i] = (row[i] - mean) * inv * weight[i] + bias[i] }
        }
    }
}
