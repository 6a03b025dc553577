import Autograd
import NN
import Optim
import TensorCore

/// numalogic's `loss_fn`: the element-wise reconstruction criterion.
public enum ReconstructionLoss: String, Sendable, CaseIterable {
    /// PyTorch's `huber_loss` with delta 1 (numalogic's default for autoencoders).
    case huber
    case l1
    /// For the AE family numalogic's `l2_loss`, half of PyTorch's `mse_loss`; for Conv1dVAE the plain MSE.
    case mse

    /// Element-wise loss of `input` against `target` with the given reduction. `halfMSE` selects
    /// numalogic's autoencoder mapping of "mse" (0.5·d²) over the VAE's plain d².
    public func callAsFunction(_ input: Variable, _ target: Variable, reduction: Reduction = .mean, halfMSE: Bool = true) -> Variable {
        switch self {
        case .huber: Loss.huber(input, target, reduction: reduction)
        case .l1: Loss.l1(input, target, reduction: reduction)
        case .mse: halfMSE ? Loss.halfMSE(input, target, reduction: reduction) : Loss.mse(input, target, reduction: reduction)
        }
    }
}

/// numalogic's `optim_algo`.
public enum OptimizerKind: String, Sendable, CaseIterable {
    case adam, adagrad, rmsprop
}

/// numalogic's `BaseAE` keyword arguments: loss, optimizer, learning rate and L2 weight decay.
public struct TrainingSettings: Equatable, Sendable {
    public var lossFn: ReconstructionLoss
    public var optimAlgo: OptimizerKind
    public var learningRate: Float
    public var weightDecay: Float

    public init(lossFn: ReconstructionLoss = .huber, optimAlgo: OptimizerKind = .adam, learningRate: Float = 1e-3, weightDecay: Float = 0) {
        (self.lossFn, self.optimAlgo, self.learningRate, self.weightDecay) = (lossFn, optimAlgo, learningRate, weightDecay)
    }

    /// numalogic's `BaseVAE` defaults: MSE (plain), Adam, learning rate 3e-4.
    public static let vaeDefaults = TrainingSettings(lossFn: .mse, optimAlgo: .adam, learningRate: 3e-4)

    /// The optimizer these settings name, over `parameters`, with PyTorch's other defaults.
    public func makeOptimizer(_ parameters: [Variable]) -> any Optimizer {
        switch optimAlgo {
        case .adam: Adam(parameters, learningRate: learningRate, weightDecay: weightDecay)
        case .adagrad: Adagrad(parameters, learningRate: learningRate, weightDecay: weightDecay)
        case .rmsprop: RMSprop(parameters, learningRate: learningRate, weightDecay: weightDecay)
        }
    }
}

/// A window autoencoder of the numalogic family.
///
/// Shape: every model takes windows `(B, L, F)` (batch, `seq_len`, features) and returns a latent code and
/// a reconstruction `(B, L, F)`. State-dict names and shapes are numalogic's, so its weights load as is.
public protocol Autoencoder: Module {
    /// The model's name in configs (`VanillaAE`, `SparseConv1dAE`, …).
    var name: String { get }
    var seqLen: Int { get }
    var nFeatures: Int { get }
    var settings: TrainingSettings { get }
    /// The constructor arguments in numalogic's conf names, enough to rebuild the model.
    var conf: JSONObject { get }

    /// `(latent, reconstruction)`; the reconstruction has the input's `(B, L, F)` shape.
    func forward(_ x: Variable) -> (latent: Variable, reconstruction: Variable)

    /// The objective minimised in training (criterion with mean reduction, plus any sparsity or KL term).
    func trainingLoss(_ x: Variable) -> Variable

    /// The validation loss (the plain criterion, mean reduction, no penalty).
    func validationLoss(_ x: Variable) -> Variable

    /// Element-wise reconstruction error `(B, L, F)` (numalogic's `predict_step`).
    func elementwiseError(_ x: Variable, _ reconstruction: Variable) -> Variable

    /// Whether "mse" means numalogic's half squared error in ``elementwiseError(_:_:)`` (the AE family) rather
    /// than the plain squared error (Conv1dVAE).
    var halvesMSE: Bool { get }
}

/// A model's element-wise reconstruction error (its loss without reduction) on raw memory.
public enum ErrorCriterion: Sendable, Equatable {
    case huber, l1
    /// `scale · (r − x)²`.
    case squared(scale: Float)

    /// `e[i] = criterion(x[i], r[i])` for `count` values.
    public func errors(_ x: UnsafePointer<Float>, _ r: UnsafePointer<Float>, into e: UnsafeMutablePointer<Float>, count n: Int) {
        switch self {
        case .huber:
            for i in 0..<n { let d = r[i] - x[i], a = Swift.abs(d); e[i] = a < 1 ? 0.5 * d * d : a - 0.5 }
        case .l1:
            for i in 0..<n { e[i] = Swift.abs(r[i] - x[i]) }
        case .squared(let h):
            for i in 0..<n { let d = r[i] - x[i]; e[i] = d * d * h }
        }
    }
}

extension Autoencoder {
    public var halvesMSE: Bool { true }

    /// ``elementwiseError(_:_:)`` over `count` raw values: `e[i] = criterion(x[i], r[i])` without tensors (the
    /// criterion resolved once, not per element).
    public func elementwiseErrors(_ x: UnsafePointer<Float>, _ r: UnsafePointer<Float>, into e: UnsafeMutablePointer<Float>, count n: Int) {
        errorCriterion.errors(x, r, into: e, count: n)
    }

    /// The model's element-wise criterion as a plain value (a caller scoring many models keeps it beside the model
    /// instead of asking the model per window).
    public var errorCriterion: ErrorCriterion {
        switch settings.lossFn {
        case .huber: .huber
        case .l1: .l1
        case .mse: .squared(scale: halvesMSE ? 0.5 : 1)
        }
    }

    public func trainingLoss(_ x: Variable) -> Variable { settings.lossFn(x, forward(x).reconstruction) }
    public func validationLoss(_ x: Variable) -> Variable { settings.lossFn(x, forward(x).reconstruction) }
    public func elementwiseError(_ x: Variable, _ reconstruction: Variable) -> Variable {
        settings.lossFn(x, reconstruction, reduction: .none)
    }

    /// The spec that rebuilds this model (`{name, conf}`).
    public var spec: ModelSpec { ModelSpec(name: name, conf: conf) }

    /// Reconstruction of `x` `(B, L, F)` in evaluation mode without recording a graph.
    public func reconstruct(_ x: Tensor) -> Tensor {
        let wasTraining = isTraining
        eval()
        defer { if wasTraining { train() } }
        return withNoGrad { forward(Variable(x)).reconstruction.value }
    }

    /// Element-wise reconstruction errors `(B, L, F)` in evaluation mode (numalogic's `predict_step`).
    public func reconstructionErrors(_ x: Tensor) -> Tensor {
        let wasTraining = isTraining
        eval()
        defer { if wasTraining { train() } }
        return withNoGrad {
            let v = Variable(x)
            return elementwiseError(v, forward(v).reconstruction).value
        }
    }

    /// The optimizer numalogic's `configure_optimizers` would build.
    public func makeOptimizer() -> any Optimizer { settings.makeOptimizer(trainableParameters) }

    /// Traps with both shapes unless `x` is a `(B, seqLen, nFeatures)` window batch.
    func checkInput(_ x: Variable) {
        precondition(x.rank == 3 && x.shape[1] == seqLen && x.shape[2] == nFeatures,
                     "\(name)(seq_len: \(seqLen), features: \(nFeatures)) expects (B, \(seqLen), \(nFeatures)), got \(x.shape)")
    }
}

/// A model with an optional sparsity term on its latent code (the `Sparse…` variants).
public protocol SparseCapable: Autoencoder {
    var sparsity: SparsityPenalty? { get }
}

extension SparseCapable {
    /// The criterion (mean) plus the sparsity penalty on the latent code, when the variant is sparse.
    public func trainingLoss(_ x: Variable) -> Variable {
        let (latent, recon) = forward(x)
        let loss = settings.lossFn(x, recon)
        return sparsity.map { loss + $0(latent) } ?? loss
    }
}

/// The conf of the fully connected family in numalogic's names (`n_features`/`n_channels` per model).
func mlpConf(seqLen: Int, featuresKey: String, features: Int, encoder: [Int], decoder: [Int], dropout: Float, batchnorm: Bool,
             extra: [(String, JSONValue)]) -> JSONObject {
    var c = JSONObject([("seq_len", .int(Int64(seqLen))), (featuresKey, .int(Int64(features))),
                        ("encoder_layersizes", .ints(encoder)), ("decoder_layersizes", .ints(decoder)),
                        ("dropout_p", .double(Double(dropout))), ("batchnorm", .bool(batchnorm))])
    for (k, v) in extra { c[k] = v }
    return c
}

/// A module that only groups named children (PyTorch modules whose forward AEFlow implements elsewhere).
public final class ModuleGroup: Module {
    public let children: [(String, any Module)]
    public var isTraining = true
    public init(_ children: [(String, any Module)]) { self.children = children }
}
