/// Why a model could not be built or loaded (numalogic raises these as LayerSizeMismatchError,
/// ModelInitializationError, ValueError, TypeError, NotImplementedError or UnknownConfigArgsError).
public enum AutoencoderError: Error, Equatable, CustomStringConvertible {
    /// The encoder's last layer size differs from the decoder's first.
    case layerSizeMismatch(encoderLast: Int, decoderFirst: Int)
    /// The architecture cannot be built or cannot reconstruct a window of the given length.
    case modelInitialization(String)
    /// A conf value has the wrong type or an invalid value.
    case invalidConf(model: String, key: String, reason: String)
    /// A conf key the model does not take.
    case unknownConf(model: String, keys: [String])
    /// A required conf key is missing.
    case missingConf(model: String, key: String)
    /// No model of this name exists.
    case unknownModel(String)
    /// A checkpoint that cannot be used for this model (e.g. numalogic's TransformerAE).
    case unsupportedImport(String)
    /// The conf asks for a model larger than allowed (checked before anything is allocated).
    case tooLarge(model: String, elements: Int, limit: Int)

    public var description: String {
        switch self {
        case .layerSizeMismatch(let e, let d):
            "last layer size of the encoder (\(e)) does not match the first layer size of the decoder (\(d))"
        case .modelInitialization(let why): "model initialisation failed: \(why)"
        case .invalidConf(let m, let k, let why): "\(m) conf.\(k): \(why)"
        case .unknownConf(let m, let keys): "\(m) conf has unknown keys: \(keys.joined(separator: ", "))"
        case .missingConf(let m, let k): "\(m) conf.\(k) is required"
        case .unknownModel(let name): "unknown model \"\(name)\"; known: \(ModelFactory.names.joined(separator: ", "))"
        case .unsupportedImport(let why): why
        case .tooLarge(let m, let n, let limit):
            "\(m) of about \(n) parameters exceeds the limit of \(limit) (ModelFactory.maximumParameters; a checkpoint's own tensors bound it further)"
        }
    }
}
