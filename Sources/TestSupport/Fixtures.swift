import Foundation
import TensorCore

/// Access to the committed PyTorch-made fixtures under `Tests/Fixtures`.
public enum Fixtures {
    /// `Tests/Fixtures` of this checkout.
    public static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/Fixtures")

    public static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Loads `Tests/Fixtures/<name>.safetensors`.
    public static func load(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile.read(contentsOf: path(name + ".safetensors"))
    }
}

extension SafeTensorsFile {
    /// The named float tensor; throws a readable error when it is missing.
    public func tensor(_ name: String) throws -> Tensor { try floatTensor(name) }

    /// A metadata value decoded as JSON (fixtures store their layer configuration there).
    public func jsonMetadata(_ key: String) throws -> JSONValue {
        guard let text = metadata[key] else { throw FixtureError.missingMetadata(key) }
        return try JSONValue.parse(text)
    }
}

public enum FixtureError: Error, CustomStringConvertible {
    case missingMetadata(String)
    public var description: String {
        switch self {
        case .missingMetadata(let k): "fixture has no metadata key \"\(k)\""
        }
    }
}
