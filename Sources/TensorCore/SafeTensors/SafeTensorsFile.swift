/// A whole safetensors document: ordered named tensors plus the string-to-string `__metadata__`.
///
/// Layout: 8-byte little-endian header length N, N bytes of JSON header, then the raw data. The header maps
/// each name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the data section).
public struct SafeTensorsFile: Equatable, Sendable {
    /// Headers above this size are refused (the reference implementation's limit).
    public static let maximumHeaderSize = 100_000_000

    public var metadata: [String: String]
    public private(set) var names: [String] = []
    private var entries: [String: SafeTensor] = [:]
    /// The `__metadata__` key order of a decoded file, kept so that re-encoding reproduces its bytes.
    private var metadataOrder: [String] = []

    /// Equal names (in order), tensors and metadata; the metadata's key order does not matter.
    public static func == (a: SafeTensorsFile, b: SafeTensorsFile) -> Bool {
        a.names == b.names && a.entries == b.entries && a.metadata == b.metadata
    }

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    public init(tensors: [(String, Tensor)], metadata: [String: String] = [:]) {
        self.metadata = metadata
        for (name, t) in tensors { set(name, SafeTensor(t)) }
    }

    public subscript(name: String) -> SafeTensor? { entries[name] }

    public var count: Int { names.count }

    /// Adds or replaces a tensor; new names are appended to the order.
    public mutating func set(_ name: String, _ tensor: SafeTensor) {
        if entries.updateValue(tensor, forKey: name) == nil { names.append(name) }
    }

    public mutating func set(_ name: String, _ tensor: Tensor) { set(name, SafeTensor(tensor)) }

    /// The named tensor as Float32, or a typed error naming it.
    public func floatTensor(_ name: String, source: String = "<memory>") throws(SafeTensorsError) -> Tensor {
        guard let e = entries[name] else { throw SafeTensorsError(source: source, .missingTensor(name)) }
        return try e.floatTensor(name: name, source: source)
    }
}

extension SafeTensorsFile {
    /// Serialises the document: `__metadata__` first, tensors in ``names`` order with contiguous offsets,
    /// header padded with spaces to a multiple of 8 bytes — the layout of the reference Python
    /// implementation. Metadata keys keep the order of the decoded file; keys added since come after,
    /// sorted. So decoding and re-encoding a file reproduces it byte for byte.
    public func encoded() -> [UInt8] {
        var header = JSONObject()
        if !metadata.isEmpty {
            var meta = JSONObject()
            let kept = metadataOrder.filter { metadata[$0] != nil }
            let added = metadata.keys.filter { !kept.contains($0) }.sorted()
            for k in kept + added { meta[k] = .string(metadata[k]!) }
            header["__metadata__"] = .object(meta)
        }
        var offset = 0
        for name in names {
            let e = entries[name]!
            header[name] = .object(JSONObject([
                ("dtype", .string(e.dtype.rawValue)),
                ("shape", .array(e.shape.map { .int(Int64($0)) })),
                ("data_offsets", .array([.int(Int64(offset)), .int(Int64(offset + e.bytes.count))])),
            ]))
            offset += e.bytes.count
        }
        var json = Array(JSONValue.object(header).serialized().utf8)
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        for name in names { out.append(contentsOf: entries[name]!.bytes) }
        return out
    }

    /// Parses and fully validates a document. `source` names it in errors (a path, usually).
    ///
    /// Checks: the header length fits the buffer and the size limit; the header is a UTF-8 JSON object;
    /// `__metadata__` maps strings to strings; every entry has exactly `dtype` (known), `shape`
    /// (non-negative integers) and `data_offsets` (`[begin, end]`, begin ≤ end); the byte span equals
    /// elements × dtype size; sorted by offset the spans are contiguous from 0 and cover the data exactly.
    public static func decode(_ bytes: [UInt8], source: String = "<memory>") throws(SafeTensorsError) -> SafeTensorsFile {
        func fail(_ p: SafeTensorsError.Problem) -> SafeTensorsError { SafeTensorsError(source: source, p) }
        guard bytes.count >= 8 else { throw fail(.truncatedHeaderLength(fileSize: bytes.count)) }
        var n: UInt64 = 0
        for k in 0..<8 { n |= UInt64(bytes[k]) << (8 * UInt64(k)) }
        guard n <= UInt64(maximumHeaderSize) else { throw fail(.headerTooLarge(declared: n, limit: maximumHeaderSize)) }
        guard n <= UInt64(bytes.count - 8) else { throw fail(.headerBeyondFile(declared: n, available: bytes.count - 8)) }
        let headerEnd = 8 + Int(n)
        let root: JSONValue
        do {
            root = try JSONValue.parse(bytes[8..<headerEnd])
        } catch {
            throw fail(.headerNotJSON(error))
        }
        guard case .object(let header) = root else { throw fail(.headerNotObject) }

        var file = SafeTensorsFile()
        struct Span { let name: String; let dtype: SafeTensorsDType; let shape: [Int]; let begin: Int; let end: Int }
        var spans: [Span] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard case .object(let meta) = value else { throw fail(.invalidMetadata(reason: "not an object")) }
                for (k, v) in meta {
                    guard case .string(let s) = v else {
                        throw fail(.invalidMetadata(reason: "value of \"\(k)\" is a \(v.typeName), not a string"))
                    }
                    file.metadata[k] = s
                    file.metadataOrder.append(k)
                }
                continue
            }
            guard case .object(let info) = value else {
                throw fail(.invalidEntry(tensor: name, reason: "entry is a \(value.typeName), not an object"))
            }
            for key in info.keys where !["dtype", "shape", "data_offsets"].contains(key) {
                throw fail(.invalidEntry(tensor: name, reason: "unexpected field \"\(key)\""))
            }
            guard case .string(let dtypeName)? = info["dtype"] else {
                throw fail(.invalidEntry(tensor: name, reason: "missing or non-string dtype"))
            }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw fail(.unknownDType(tensor: name, dtype: dtypeName))
            }
            guard case .array(let shapeValues)? = info["shape"] else {
                throw fail(.invalidEntry(tensor: name, reason: "missing or non-array shape"))
            }
            var shape: [Int] = []
            var elements = 1
            for d in shapeValues {
                guard let v = d.intValue, v >= 0, v <= Int64(Int32.max) else {
                    throw fail(.invalidEntry(tensor: name, reason: "shape entries must be non-negative integers"))
                }
                shape.append(Int(v))
                let (p, overflow) = elements.multipliedReportingOverflow(by: Int(v))
                guard !overflow else { throw fail(.invalidEntry(tensor: name, reason: "shape \(shape) overflows")) }
                elements = p
            }
            guard case .array(let offs)? = info["data_offsets"], offs.count == 2,
                  let b64 = offs[0].intValue, let e64 = offs[1].intValue, b64 >= 0, e64 >= b64,
                  e64 <= Int64(bytes.count)
            else {
                throw fail(.invalidEntry(tensor: name, reason: "data_offsets must be [begin, end] with 0 ≤ begin ≤ end ≤ file size"))
            }
            let (need, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, need == Int(e64 - b64) else {
                throw fail(.sizeMismatch(tensor: name, expectedBytes: overflow ? Int.max : need, declaredBytes: Int(e64 - b64)))
            }
            spans.append(Span(name: name, dtype: dtype, shape: shape, begin: Int(b64), end: Int(e64)))
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        let dataLength = bytes.count - headerEnd
        var expected = 0
        for s in spans {
            guard s.begin == expected else {
                throw fail(.offsetsNotContiguous(tensor: s.name, expectedBegin: expected, begin: s.begin))
            }
            expected = s.end
        }
        guard expected == dataLength else { throw fail(.dataLengthMismatch(covered: expected, actual: dataLength)) }
        for s in spans {
            file.set(s.name, SafeTensor(dtype: s.dtype, shape: s.shape,
                                        bytes: Array(bytes[(headerEnd + s.begin)..<(headerEnd + s.end)])))
        }
        return file
    }
}
