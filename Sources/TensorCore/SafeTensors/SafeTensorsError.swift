/// A safetensors file (or buffer) that could not be read, naming its source and the first problem found.
public struct SafeTensorsError: Error, Equatable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        case io(operation: String, errno: Int32)
        case fileTooLarge(size: Int, limit: Int)
        case truncatedHeaderLength(fileSize: Int)
        case headerTooLarge(declared: UInt64, limit: Int)
        case headerBeyondFile(declared: UInt64, available: Int)
        case headerNotJSON(JSONParseError)
        case headerNotObject
        case invalidMetadata(reason: String)
        case invalidEntry(tensor: String, reason: String)
        case unknownDType(tensor: String, dtype: String)
        case sizeMismatch(tensor: String, expectedBytes: Int, declaredBytes: Int)
        case offsetsNotContiguous(tensor: String, expectedBegin: Int, begin: Int)
        case dataLengthMismatch(covered: Int, actual: Int)
        case missingTensor(String)
        case wrongDType(tensor: String, expected: String, actual: SafeTensorsDType)
    }

    public let source: String
    public let problem: Problem

    public init(source: String, _ problem: Problem) {
        self.source = source
        self.problem = problem
    }

    public var description: String {
        let what: String
        switch problem {
        case .io(let op, let e): what = "\(op) failed: \(String(cString: strerror(e))) (errno \(e))"
        case .fileTooLarge(let size, let limit): what = "file of \(size) bytes exceeds the limit of \(limit)"
        case .truncatedHeaderLength(let size): what = "truncated: \(size) bytes cannot hold the 8-byte header length"
        case .headerTooLarge(let n, let limit): what = "header length \(n) exceeds the limit of \(limit) bytes"
        case .headerBeyondFile(let n, let available):
            what = "truncated: header length \(n) but only \(available) bytes follow"
        case .headerNotJSON(let e): what = "header is not valid JSON (\(e))"
        case .headerNotObject: what = "header is not a JSON object"
        case .invalidMetadata(let reason): what = "invalid __metadata__: \(reason)"
        case .invalidEntry(let t, let reason): what = "tensor \"\(t)\": \(reason)"
        case .unknownDType(let t, let d): what = "tensor \"\(t)\": unknown dtype \"\(d)\""
        case .sizeMismatch(let t, let expected, let declared):
            what = "tensor \"\(t)\": shape and dtype need \(expected) bytes but data_offsets span \(declared)"
        case .offsetsNotContiguous(let t, let expected, let begin):
            what = "tensor \"\(t)\": data begins at \(begin), expected \(expected) (gap or overlap)"
        case .dataLengthMismatch(let covered, let actual):
            what = "tensors cover \(covered) data bytes but the file has \(actual)"
        case .missingTensor(let t): what = "no tensor named \"\(t)\""
        case .wrongDType(let t, let expected, let actual): what = "tensor \"\(t)\" is \(actual.rawValue), expected \(expected)"
        }
        return "\(source): \(what)"
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
