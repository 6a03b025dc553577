import Autograd
import NN
import TensorCore

/// `Conv1d(padding 1) → BatchNorm1d → ReLU` (numalogic's `ConvBlock`; state `conv.*`, `bnorm.*`).
public final class ConvBlock: Layer {
    public let conv: Conv1d
    public let bnorm: BatchNorm1d
    private let relu = ReLU()
    public var isTraining = true

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, padding: Int, using rng: inout RandomGenerator) {
        conv = Conv1d(inChannels, outChannels, kernelSize: kernelSize, padding: padding, using: &rng)
        bnorm = BatchNorm1d(outChannels)
    }

    public var children: [(String, any Module)] { [("conv", conv), ("bnorm", bnorm), ("relu", relu)] }
    public func callAsFunction(_ x: Variable) -> Variable { bnorm(conv(x)).relu() }
}

/// `ConvTranspose1d(padding 1) → BatchNorm1d → ReLU` (numalogic's `ConvTransposeBlock`).
public final class ConvTransposeBlock: Layer {
    public let convtranspose: ConvTranspose1d
    public let bnorm: BatchNorm1d
    private let relu = ReLU()
    public var isTraining = true

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, padding: Int, using rng: inout RandomGenerator) {
        convtranspose = ConvTranspose1d(inChannels, outChannels, kernelSize: kernelSize, padding: padding, using: &rng)
        bnorm = BatchNorm1d(outChannels)
    }

    public var children: [(String, any Module)] { [("convtranspose", convtranspose), ("bnorm", bnorm), ("relu", relu)] }
    public func callAsFunction(_ x: Variable) -> Variable { bnorm(convtranspose(x)).relu() }
}

/// numalogic's `Conv1dAE` and `SparseConv1dAE`.
///
/// Channels-first `(B, F, L)`. Encoder: for all but the last of `encChannels`, a ConvBlock (padding 1)
/// and `MaxPool1d(pool)`; then a latent `Conv1d(padding 1) → ReLU`. Decoder mirrors it with
/// ConvTransposeBlocks and linear `Upsample(pool)`, ending in `ConvTranspose1d(→ F, padding 1)` and an
/// optional activation. Unlike numalogic, a window length the architecture cannot reproduce (e.g. not
/// divisible by `pool^(n−1)` with kernel 3) is refused at construction instead of failing in the loss.
///
/// Shape: `(B, L, F)` → latent `(B, enc[-1], L/pool^(n−1))`, reconstruction `(B, L, F)`.
/// State: `encoder.encoder.{2i}.conv|bnorm.*`, latent `encoder.encoder.{2(n−1)}.*`,
/// `decoder.decoder.{2i}.convtranspose|bnorm.*`, output `decoder.decoder.{2(n−1)}.*`.
public final class Conv1dAE: SparseCapable {
    public static let activations = ["sigmoid", "tanh", "relu"]

    public let name: String
    public let seqLen: Int, nFeatures: Int
    public let encChannels: [Int], encKernelSizes: [Int]
    public let poolKernelSize: Int
    public let decActivation: String?
    public let sparsity: SparsityPenalty?
    public let settings: TrainingSettings
    public let encoder: Sequential, decoder: Sequential
    private let groups: [(String, any Module)]
    public var isTraining = true

    public init(
        seqLen: Int, inChannels: Int, encChannels: [Int] = [16, 8], encKernelSizes: [Int]? = nil, poolKernelSize: Int = 2,
        decActivation: String? = nil, sparsity: SparsityPenalty? = nil, settings: TrainingSettings = TrainingSettings(),
        using rng: inout RandomGenerator
    ) throws(AutoencoderError) {
        let kernels = encKernelSizes ?? [Int](repeating: 3, count: encChannels.count)
        guard seqLen >= 1, inChannels >= 1, !encChannels.isEmpty, encChannels.allSatisfy({ $0 > 0 }),
              kernels.allSatisfy({ $0 > 0 }), poolKernelSize >= 1 else {
            throw .modelInitialization("seq_len, in_channels, enc_channels, kernel sizes and pool size must be positive")
        }
        guard kernels.count == encChannels.count else {
            throw .modelInitialization("enc_channels and enc_kernel_sizes should be of the same length")
        }
        if let a = decActivation, !Conv1dAE.activations.contains(a) {
            throw .invalidConf(model: sparsity == nil ? "Conv1dAE" : "SparseConv1dAE", key: "dec_activation",
                               reason: "unsupported activation function \"\(a)\"; expected sigmoid, tanh or relu")
        }
        // Length algebra (padding 1): conv L → L + 3 − k, pool L → L / pool, convT L → L + k − 3, upsample L → L·pool.
        let n = encChannels.count
        var length = seqLen
        for i in 0..<(n - 1) { length = (length + 3 - kernels[i]) / poolKernelSize }
        length += 3 - kernels[n - 1]
        let latentLength = length
        let decKernels = Array(kernels.reversed())
        for i in 0..<(n - 1) { length = (length + decKernels[i] - 3) * poolKernelSize }
        length += decKernels[n - 1] - 3
        guard latentLength > 0, length == seqLen else {
            throw .modelInitialization("a window of \(seqLen) steps cannot be reconstructed by enc_channels \(encChannels), "
                + "kernels \(kernels) and pool \(poolKernelSize) (latent length \(latentLength), output length \(length)); "
                + "with kernel 3, seq_len must be divisible by pool^\(n - 1)")
        }

        name = sparsity == nil ? "Conv1dAE" : "SparseConv1dAE"
        (self.seqLen, self.nFeatures, self.encChannels, self.encKernelSizes) = (seqLen, inChannels, encChannels, kernels)
        (self.poolKernelSize, self.decActivation, self.sparsity, self.settings) = (poolKernelSize, decActivation, sparsity, settings)

        var enc: [any Layer] = []
        var previous = inChannels
        for i in 0..<(n - 1) {
            enc += [ConvBlock(previous, encChannels[i], kernelSize: kernels[i], padding: 1, using: &rng),
                    MaxPool1d(kernelSize: poolKernelSize)] as [any Layer]
            previous = encChannels[i]
        }
        enc += [Conv1d(previous, encChannels[n - 1], kernelSize: kernels[n - 1], padding: 1, using: &rng), ReLU()] as [any Layer]
        let decChannels = Array(encChannels.dropLast().reversed()) + [inChannels]
        var dec: [any Layer] = []
        previous = encChannels[n - 1]
        for i in 0..<(n - 1) {
            dec += [ConvTransposeBlock(previous, decChannels[i], kernelSize: decKernels[i], padding: 1, using: &rng),
                    Upsample(scaleFactor: Float(poolKernelSize))] as [any Layer]
            previous = decChannels[i]
        }
        dec.append(ConvTranspose1d(previous, inChannels, kernelSize: decKernels[n - 1], padding: 1, using: &rng))
        switch decActivation {
        case "sigmoid": dec.append(Sigmoid())
        case "tanh": dec.append(Tanh())
        case "relu": dec.append(ReLU())
        default: break
        }
        encoder = Sequential(enc)
        decoder = Sequential(dec)
        groups = [("encoder", ModuleGroup([("encoder", encoder)])), ("decoder", ModuleGroup([("decoder", decoder)]))]
        resetParameters(using: &rng)
    }

    /// numalogic's init: xavier-normal with the ReLU gain √2 on every Conv1d and ConvTranspose1d weight.
    public func resetParameters(using rng: inout RandomGenerator) {
        func visit(_ m: any Module) {
            if let c = m as? Conv1d { c.weight.value = Initializer.xavierNormal(c.weight.shape, gain: Initializer.Nonlinearity.relu.gain, using: &rng) }
            if let c = m as? ConvTranspose1d { c.weight.value = Initializer.xavierNormal(c.weight.shape, gain: Initializer.Nonlinearity.relu.gain, using: &rng) }
            for (_, child) in m.children { visit(child) }
        }
        visit(encoder)
        visit(decoder)
    }

    public var children: [(String, any Module)] { groups }

    public var conf: JSONObject {
        var c = JSONObject([("seq_len", .int(Int64(seqLen))), ("in_channels", .int(Int64(nFeatures))),
                            ("enc_channels", .ints(encChannels)), ("enc_kernel_sizes", .ints(encKernelSizes)),
                            ("pool_kernel_size", .int(Int64(poolKernelSize))), ("dec_activation", decActivation.map { .string($0) } ?? .null)])
        for (k, v) in (sparsity?.conf ?? []) + settings.conf { c[k] = v }
        return c
    }

    public func forward(_ x: Variable) -> (latent: Variable, reconstruction: Variable) {
        checkInput(x)
        let latent = encoder(x.transposed(1, 2))
        return (latent, decoder(latent).transposed(1, 2))
    }
}
