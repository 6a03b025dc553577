import TensorCore

/// Builds models from `{name, conf}` with numalogic's constructor names and defaults.
///
/// Conf keys are numalogic's keyword arguments (`seq_len`, `n_features`, `encoder_layersizes`, …) plus the
/// BaseAE ones (`loss_fn`, `optim_algo`, `lr`, `weight_decay`) and, for sparse variants, `beta`, `rho` and
/// AEFlow's `method` (kl, l1, l2). The feature count is accepted under any of numalogic's per-model names
/// (`n_features`, `no_features`, `in_channels`, `n_channels`) and the window length as `seq_len` or
/// `seq_length`; unknown keys are refused.
public enum ModelFactory {
    public static let names = [
        "VanillaAE", "SparseVanillaAE", "MultichannelAE", "VanillaICAE", "Conv1dAE", "SparseConv1dAE",
        "LSTMAE", "SparseLSTMAE", "TransformerAE", "SparseTransformerAE", "Conv1dVAE",
    ]

    static let featureKeys = ["n_features", "no_features", "in_channels", "n_channels"]

    /// The largest model (parameters, buffers and fixed encodings, in Float32 elements: 100 M = 400 MB) a conf
    /// may ask for. Sizes come from configs and checkpoints, i.e. from outside: they are bounded before
    /// anything is allocated (README "Limits").
    public static let maximumParameters = 100_000_000
    /// The largest single size (`seq_len`, a feature count, a layer width, …) a conf may give.
    public static let maximumDimension = 1 << 20

    /// Builds the model `spec` names; a conf whose model would hold more than `limit` elements is refused
    /// before any layer is allocated (``estimatedElements`` bounds it from the conf alone).
    public static func make(_ spec: ModelSpec, using rng: inout RandomGenerator, limit: Int = maximumParameters) throws(AutoencoderError) -> any Autoencoder {
        let needed = try estimatedElements(spec)
        guard needed <= limit else { throw .tooLarge(model: spec.name, elements: needed, limit: limit) }
        return try build(spec, using: &rng)
    }

    static func build(_ spec: ModelSpec, using rng: inout RandomGenerator) throws(AutoencoderError) -> any Autoencoder {
        var c = ConfReader(model: spec.name, conf: spec.conf)
        func features(_ c: inout ConfReader, default d: Int? = nil) throws(AutoencoderError) -> Int {
            try c.int("n_features", "no_features", "in_channels", "n_channels", default: d, min: 1)
        }
        let model: any Autoencoder
        switch spec.name {
        case "VanillaAE", "SparseVanillaAE":
            let sparse = spec.name == "SparseVanillaAE"
            model = try VanillaAE(
                seqLen: try c.int("seq_len", "seq_length", min: 1), nFeatures: try features(&c, default: 1),
                encoderLayerSizes: try c.ints("encoder_layersizes", default: [16, 8]),
                decoderLayerSizes: try c.ints("decoder_layersizes", default: [8, 16]),
                dropoutP: try c.float("dropout_p", default: 0.25), batchnorm: try c.bool("batchnorm", default: sparse),
                sparsity: sparse ? try c.sparsity() : nil, settings: try c.settings(), using: &rng)
        case "MultichannelAE", "VanillaICAE":
            let seqLen = try c.int("seq_len", "seq_length", min: 1)
            let channels = try features(&c, default: spec.name == "VanillaICAE" ? 1 : nil)
            let enc = try c.ints("encoder_layersizes", default: [16, 8]), dec = try c.ints("decoder_layersizes", default: [8, 16])
            let dropout = try c.float("dropout_p", default: 0.25), bn = try c.bool("batchnorm", default: false)
            let settings = try c.settings()
            model = spec.name == "MultichannelAE"
                ? try MultichannelAE(seqLen: seqLen, nChannels: channels, encoderLayerSizes: enc, decoderLayerSizes: dec,
                                     dropoutP: dropout, batchnorm: bn, settings: settings, using: &rng)
                : try VanillaICAE(seqLen: seqLen, nChannels: channels, encoderLayerSizes: enc, decoderLayerSizes: dec,
                                  dropoutP: dropout, batchnorm: bn, settings: settings, using: &rng)
        case "Conv1dAE", "SparseConv1dAE":
            let sparse = spec.name == "SparseConv1dAE"
            let seqLen = try c.int("seq_len", "seq_length", min: 1)
            let inChannels = try features(&c)
            let channels = try c.ints("enc_channels", default: [16, 8])
            model = try Conv1dAE(
                seqLen: seqLen, inChannels: inChannels, encChannels: channels,
                encKernelSizes: try c.ints("enc_kernel_sizes", default: [Int](repeating: 3, count: channels.count),
                                           repeatScalarTo: channels.count),
                poolKernelSize: try c.int("pool_kernel_size", default: 2, min: 1),
                decActivation: try c.string("dec_activation", default: nil),
                sparsity: sparse ? try c.sparsity() : nil, settings: try c.settings(), using: &rng)
        case "LSTMAE", "SparseLSTMAE":
            let sparse = spec.name == "SparseLSTMAE"
            model = try LSTMAE(
                seqLen: try c.int("seq_len", "seq_length", min: 1), noFeatures: try features(&c),
                embeddingDim: try c.int("embedding_dim", min: 1),
                encoderLayers: try c.int("encoder_layers", default: 1, min: 1), decoderLayers: try c.int("decoder_layers", default: 1, min: 1),
                sparsity: sparse ? try c.sparsity() : nil, settings: try c.settings(), using: &rng)
        case "TransformerAE", "SparseTransformerAE":
            let sparse = spec.name == "SparseTransformerAE"
            model = try TransformerAE(
                seqLen: try c.int("seq_len", "seq_length", default: 1, min: 1), nFeatures: try features(&c, default: 1),
                numEncoderLayers: try c.int("num_encoder_layers", default: 3, min: 1),
                numDecoderLayers: try c.int("num_decoder_layers", default: 3, min: 1),
                numHeads: try c.int("num_heads", default: 6, min: 1), dimFeedforward: try c.int("dim_feedforward", default: 2048, min: 1),
                dropout: try c.float("dropout", default: 0.1),
                sparsity: sparse ? try c.sparsity() : nil, settings: try c.settings(), using: &rng)
        case "Conv1dVAE":
            var settings = TrainingSettings.vaeDefaults
            settings.learningRate = try c.float("lr", default: 3e-4, range: 0...10)
            settings.weightDecay = try c.float("weight_decay", default: 0, range: 0...10)
            if let l = try c.string("loss_fn", default: nil) {
                guard let loss = ReconstructionLoss(rawValue: l) else {
                    throw .invalidConf(model: spec.name, key: "loss_fn", reason: "unsupported loss \"\(l)\"; expected huber, l1 or mse")
                }
                settings.lossFn = loss
            }
            model = try Conv1dVAE(
                seqLen: try c.int("seq_len", "seq_length", min: 1), nFeatures: try features(&c),
                latentDim: try c.int("latent_dim", min: 1), convChannels: try c.ints("conv_channels", default: [16]),
                beta: try c.float("beta", default: 0.1), settings: settings, using: &rng)
        default:
            throw .unknownModel(spec.name)
        }
        try c.finish()
        return model
    }

    /// An upper estimate (within 2× of the truth, tested for every model) of the elements `spec`'s model
    /// allocates: weights, biases, normalisation buffers and the transformer's positional encoding. Reads the
    /// conf with the same names and defaults as ``make``; arithmetic saturates, so no size can overflow it.
    public static func estimatedElements(_ spec: ModelSpec) throws(AutoencoderError) -> Int {
        var c = ConfReader(model: spec.name, conf: spec.conf)
        func dim(_ v: Int, _ what: String) throws(AutoencoderError) -> Int {
            guard v <= maximumDimension else {
                throw .invalidConf(model: spec.name, key: what, reason: "\(v) exceeds the limit of \(maximumDimension)")
            }
            return v
        }
        func dims(_ v: [Int], _ what: String) throws(AutoencoderError) -> [Int] {
            guard v.count <= 1024 else { throw .invalidConf(model: spec.name, key: what, reason: "\(v.count) entries exceed the limit of 1024") }
            for x in v { _ = try dim(x, what) }
            return v
        }
        func features(default d: Int? = nil) throws(AutoencoderError) -> Int {
            try dim(try c.int("n_features", "no_features", "in_channels", "n_channels", default: d, min: 1), "n_features")
        }
        var e = Elements()
        switch spec.name {
        case "VanillaAE", "SparseVanillaAE", "MultichannelAE", "VanillaICAE":
            let seqLen = try dim(try c.int("seq_len", "seq_length", min: 1), "seq_len")
            let f = try features(default: spec.name == "MultichannelAE" ? nil : 1)
            let enc = try dims(try c.ints("encoder_layersizes", default: [16, 8]), "encoder_layersizes")
            let dec = try dims(try c.ints("decoder_layersizes", default: [8, 16]), "decoder_layersizes")
            switch spec.name {
            case "VanillaAE", "SparseVanillaAE": e.mlp(input: e.product(seqLen, f), enc: enc, dec: dec, copies: 1)
            default: e.mlp(input: seqLen, enc: enc, dec: dec, copies: f)   // one network (or weight slice) per channel
            }
        case "Conv1dAE", "SparseConv1dAE":
            _ = try dim(try c.int("seq_len", "seq_length", min: 1), "seq_len")
            let f = try features()
            let channels = try dims(try c.ints("enc_channels", default: [16, 8]), "enc_channels")
            let kernels = try dims(try c.ints("enc_kernel_sizes", default: [Int](repeating: 3, count: channels.count), repeatScalarTo: channels.count),
                                   "enc_kernel_sizes")
            let k = kernels.max() ?? 3
            var previous = f
            for ch in channels { e.add(e.product(previous, ch, k)); e.add(e.product(6, ch)); previous = ch }
            e.add(e.total)   // the decoder mirrors the encoder
        case "LSTMAE", "SparseLSTMAE":
            _ = try dim(try c.int("seq_len", "seq_length", min: 1), "seq_len")
            let f = try features()
            let h = try dim(try c.int("embedding_dim", min: 1), "embedding_dim")
            let layers = try dim(try c.int("encoder_layers", default: 1, min: 1), "encoder_layers")
                + (try dim(try c.int("decoder_layers", default: 1, min: 1), "decoder_layers"))
            e.add(e.product(layers, 4, h, f + 2 * h + 2))
            e.add(e.product(h, f + 1))
        case "TransformerAE", "SparseTransformerAE":
            let d = try dim(try c.int("seq_len", "seq_length", default: 1, min: 1), "seq_len")
            let f = try features(default: 1)
            let layers = try dim(try c.int("num_encoder_layers", default: 3, min: 1), "num_encoder_layers")
                + 2 * (try dim(try c.int("num_decoder_layers", default: 3, min: 1), "num_decoder_layers"))
            let ff = try dim(try c.int("dim_feedforward", default: 2048, min: 1), "dim_feedforward")
            e.add(e.product(layers, e.product(4, d, d) + e.product(2, d, ff) + e.product(10, d) + ff))
            e.add(e.product(d, d + 1))
            e.add(e.product(f, d))
        case "Conv1dVAE":
            let seqLen = try dim(try c.int("seq_len", "seq_length", min: 1), "seq_len")
            let f = try features()
            let latent = try dim(try c.int("latent_dim", min: 1), "latent_dim")
            let channels = try dims(try c.ints("conv_channels", default: [16]), "conv_channels")
            var previous = f
            for ch in channels { e.add(e.product(previous, ch, 3)); e.add(e.product(6, ch)); previous = ch }
            e.add(e.product(previous, seqLen, latent))
            e.add(e.product(3, latent, latent + 1))
            e.add(e.product(latent, 6, channels.first ?? 1))
            e.add(e.product(channels.first ?? 1, f, 4))
            e.add(e.product(13, seqLen) + e.product(f, f + 8))
        default:
            throw .unknownModel(spec.name)
        }
        return e.total
    }
}

/// Saturating element arithmetic for ``ModelFactory/estimatedElements(_:)``.
struct Elements {
    var total = 0
    func product(_ xs: Int...) -> Int {
        var p = 1
        for x in xs {
            let (r, o) = p.multipliedReportingOverflow(by: Swift.max(x, 0))
            if o { return .max }
            p = r
        }
        return p
    }
    mutating func add(_ x: Int) {
        let (r, o) = total.addingReportingOverflow(x)
        total = o ? .max : r
    }
    /// Fully connected encoder and decoder (with room for batch norm), `copies` times.
    mutating func mlp(input: Int, enc: [Int], dec: [Int], copies: Int) {
        var one = Elements()
        var previous = input
        for s in enc { one.add(product(previous + 5, s) + 1); previous = s }
        previous = dec.first ?? previous
        for s in dec.dropFirst() { one.add(product(previous + 5, s) + 1); previous = s }
        one.add(product(previous + 1, input))
        add(product(one.total, copies))
    }
}
