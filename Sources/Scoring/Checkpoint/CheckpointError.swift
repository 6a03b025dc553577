import TensorCore

/// A checkpoint that cannot be loaded, naming the file and the first problem found.
public struct CheckpointError: Error, Equatable, CustomStringConvertible {
    public enum Problem: Error, Equatable, Sendable {
        /// The safetensors container itself is malformed or unreadable.
        case container(SafeTensorsError.Problem)
        /// `__metadata__.format` is missing or not `aeflow.checkpoint.v1`.
        case format(String?)
        /// A metadata entry is missing or invalid.
        case metadata(key: String, reason: String)
        /// The data section does not hash to `data_sha256` (truncated or corrupted).
        case integrity(expected: String, actual: String)
        /// Tensors missing, unexpected, mis-shaped or non-finite.
        case tensors(String)
        /// The spec cannot be built or does not match the tensors.
        case spec(String)
    }

    public let path: String
    public let problem: Problem

    public init(path: String, _ problem: Problem) { (self.path, self.problem) = (path, problem) }

    public var description: String {
        let what: String
        switch problem {
        case .container(let p): what = SafeTensorsError(source: "", p).description.dropFirst(2).description
        case .format(let f): what = "not an AEFlow checkpoint (format \(f.map { "\"\($0)\"" } ?? "missing"), expected \"\(Checkpoint.format)\")"
        case .metadata(let k, let r): what = "metadata \(k): \(r)"
        case .integrity(let e, let a): what = "data does not match data_sha256 (expected \(e.prefix(12))…, got \(a.prefix(12))…): truncated or corrupted"
        case .tensors(let s): what = s
        case .spec(let s): what = s
        }
        return "\(path): \(what)"
    }
}
