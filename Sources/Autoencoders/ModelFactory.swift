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

    public static func make(_ spec: ModelSpec, using rng: inout RandomGenerator) throws(AutoencoderError) -> any Autoencoder {
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
}
