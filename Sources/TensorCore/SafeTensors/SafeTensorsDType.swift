/// The element types of the safetensors format, by their on-disk names.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64

    public var byteSize: Int {
        switch self {
        case .BOOL, .U8, .I8, .F8_E5M2, .F8_E4M3: 1
        case .I16, .U16, .F16, .BF16: 2
        case .I32, .U32, .F32: 4
        case .F64, .I64, .U64: 8
        }
    }
}
