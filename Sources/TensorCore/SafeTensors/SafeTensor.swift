/// One tensor of a safetensors file: dtype, shape and raw little-endian bytes.
public struct SafeTensor: Equatable, Sendable {
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    public let bytes: [UInt8]

    /// Raw data; `bytes.count` must equal the element count times the dtype's size.
    public init(dtype: SafeTensorsDType, shape: [Int], bytes: [UInt8]) {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) * dtype.byteSize == bytes.count,
                     "\(bytes.count) bytes do not hold \(dtype.rawValue) of shape \(shape)")
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// An F32 entry holding `tensor`.
    public init(_ tensor: Tensor) {
        var raw = [UInt8](repeating: 0, count: tensor.scalarCount * 4)
        tensor.withUnsafeBufferPointer { src in
            raw.withUnsafeMutableBytes { dst in
                for (i, v) in src.enumerated() { dst.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
            }
        }
        self.init(dtype: .F32, shape: tensor.shape.dims, bytes: raw)
    }

    /// An I64 entry (e.g. BatchNorm's `num_batches_tracked`, shape `[]`).
    public init(int64 values: [Int64], shape: [Int]) {
        var raw = [UInt8](repeating: 0, count: values.count * 8)
        raw.withUnsafeMutableBytes { dst in
            for (i, v) in values.enumerated() { dst.storeBytes(of: v.littleEndian, toByteOffset: i * 8, as: Int64.self) }
        }
        self.init(dtype: .I64, shape: shape, bytes: raw)
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// The values as a Float32 tensor; F32 is copied exactly, F16, BF16 and F64 are converted.
    public func floatTensor(name: String = "", source: String = "<memory>") throws(SafeTensorsError) -> Tensor {
        guard [.F32, .F64, .F16, .BF16].contains(dtype) else {
            throw SafeTensorsError(source: source, .wrongDType(tensor: name, expected: "a float dtype", actual: dtype))
        }
        let n = elementCount
        var t = Tensor(uninitializedShape: Shape(shape))
        bytes.withUnsafeBytes { raw in
            t.withUnsafeMutableBufferPointer { dst in
                switch dtype {
                case .F32:
                    for i in 0..<n { dst[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
                case .F64:
                    for i in 0..<n { dst[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))) }
                case .F16:
                    for i in 0..<n { dst[i] = halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
                case .BF16:
                    for i in 0..<n { dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) << 16) }
                default: break
                }
            }
        }
        return t
    }

    /// The values as 64-bit integers (I64, I32, I16, I8, U32, U16, U8 and BOOL widen exactly; U64 and
    /// float dtypes are refused).
    public func int64Values(name: String = "", source: String = "<memory>") throws(SafeTensorsError) -> [Int64] {
        let n = elementCount
        guard [.I64, .I32, .U32, .I16, .U16, .I8, .U8, .BOOL].contains(dtype) else {
            throw SafeTensorsError(source: source, .wrongDType(tensor: name, expected: "an integer dtype", actual: dtype))
        }
        return bytes.withUnsafeBytes { raw -> [Int64] in
            switch dtype {
            case .I64: (0..<n).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
            case .I32: (0..<n).map { Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
            case .U32: (0..<n).map { Int64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            case .I16: (0..<n).map { Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self))) }
            case .U16: (0..<n).map { Int64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
            case .I8: (0..<n).map { Int64(raw.load(fromByteOffset: $0, as: Int8.self)) }
            default: (0..<n).map { Int64(raw.load(fromByteOffset: $0, as: UInt8.self)) }  // U8, BOOL
            }
        }
    }
}

/// IEEE 754 binary16 → binary32 (exact, including subnormals, infinities and NaN).
@inlinable
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = Int((h >> 10) & 0x1F)
    let mant = UInt32(h & 0x3FF)
    if exp == 0 {
        let v = Float(mant) * (1.0 / 16_777_216.0)  // mant · 2^-24
        return sign != 0 ? -v : v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
}
