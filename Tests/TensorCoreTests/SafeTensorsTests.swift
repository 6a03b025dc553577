import Foundation
import Testing
import TestSupport
@testable import TensorCore

/// Builds a raw safetensors buffer from a header string and data bytes.
private func raw(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    var out = [UInt8]()
    withUnsafeBytes(of: (declaredLength ?? UInt64(h.count)).littleEndian) { out.append(contentsOf: $0) }
    return out + h + data
}

private func problem(_ bytes: [UInt8]) -> SafeTensorsError.Problem? {
    do {
        _ = try SafeTensorsFile.decode(bytes, source: "test")
        return nil
    } catch {
        return error.problem
    }
}

@Suite struct SafeTensorsTests {
    func sample() -> SafeTensorsFile {
        var f = SafeTensorsFile(metadata: ["format": "aeflow.checkpoint.v1", "note": "line\nbreak \"quoted\""])
        f.set("model.weight", Tensor(shape: [2, 3], scalars: [1, -2, 3.5, 0, .leastNonzeroMagnitude, -0.0]))
        f.set("model.bias", Tensor([0.25, -8]))
        f.set("bn.num_batches_tracked", SafeTensor(int64: [42], shape: []))
        f.set("empty", Tensor.zeros([0, 3]))
        return f
    }

    @Test func roundTripIsByteExact() throws {
        let f = sample()
        let bytes = f.encoded()
        let back = try SafeTensorsFile.decode(bytes)
        #expect(back == f)
        #expect(back.names == f.names)
        let same = back.encoded() == bytes
        #expect(same)
        #expect(try back.floatTensor("model.weight") == Tensor(shape: [2, 3], scalars: [1, -2, 3.5, 0, .leastNonzeroMagnitude, -0.0]))
        #expect(try back["bn.num_batches_tracked"]!.int64Values() == [42])
        // header padded to 8 bytes with spaces
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(n % 8 == 0)
    }

    @Test func roundTripThroughAFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("x.safetensors")
        try sample().write(to: path)
        #expect(try SafeTensorsFile.read(contentsOf: path) == sample())
    }

    /// Files written by the Python reference re-encode to exactly the same bytes.
    @Test func pythonWrittenFixturesReencodeIdentically() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("nn")).filter { $0.hasSuffix(".safetensors") }
        #expect(names.count > 20)
        for name in names.sorted() {
            let path = Fixtures.path("nn/" + name)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let file = try SafeTensorsFile.decode(bytes, source: path)
            let same = file.encoded() == bytes
            #expect(same, "\(name) re-encodes differently")
        }
    }

    @Test func convertsOtherDTypes() throws {
        // F16: 1.0 = 0x3C00, -2.0 = 0xC000, smallest subnormal 0x0001 = 2^-24, inf 0x7C00
        let f16 = SafeTensor(dtype: .F16, shape: [4], bytes: [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C])
        #expect(try f16.floatTensor().scalars == [1, -2, Float(1.0 / 16_777_216.0), .infinity])
        // BF16: 1.0 = 0x3F80
        let bf16 = SafeTensor(dtype: .BF16, shape: [1], bytes: [0x80, 0x3F])
        #expect(try bf16.floatTensor().scalars == [1])
        var f64 = [UInt8]()
        withUnsafeBytes(of: (0.5 as Double).bitPattern.littleEndian) { f64.append(contentsOf: $0) }
        #expect(try SafeTensor(dtype: .F64, shape: [], bytes: f64).floatTensor().scalars == [0.5])
        #expect(try SafeTensor(dtype: .I32, shape: [1], bytes: [0xFF, 0xFF, 0xFF, 0xFF]).int64Values() == [-1])
        #expect(throws: SafeTensorsError.self) { try SafeTensor(dtype: .I64, shape: [], bytes: [UInt8](repeating: 0, count: 8)).floatTensor() }
        #expect(throws: SafeTensorsError.self) { try SafeTensor(dtype: .F32, shape: [], bytes: [0, 0, 0, 0]).int64Values() }
    }

    @Test func everyTruncationIsATypedError() {
        let bytes = sample().encoded()
        for n in 0..<bytes.count {
            #expect(problem(Array(bytes[0..<n])) != nil, "prefix of \(n) bytes was accepted")
        }
        #expect(problem(bytes + [0]) == .dataLengthMismatch(covered: 40, actual: 41))
    }

    @Test func corruptedBytesNeverTrap() {
        let bytes = sample().encoded()
        var rng = RandomGenerator(seed: 99)
        var accepted = 0
        for _ in 0..<3000 {
            var b = bytes
            let i = Int(rng.next() % UInt64(b.count))
            b[i] = UInt8(truncatingIfNeeded: rng.next())
            if problem(b) == nil { accepted += 1 }  // data-section flips are legitimately valid files
        }
        #expect(accepted < 3000)
    }

    @Test func craftedBadHeaders() {
        let f32x2 = [UInt8](repeating: 0, count: 8)
        #expect(problem([1, 2, 3]) == .truncatedHeaderLength(fileSize: 3))
        #expect(problem(raw("{}", declaredLength: 1 << 40)) == .headerTooLarge(declared: 1 << 40, limit: SafeTensorsFile.maximumHeaderSize))
        #expect(problem(raw("{}", declaredLength: 50)) == .headerBeyondFile(declared: 50, available: 2))
        if case .headerNotJSON? = problem(raw("{not json}")) {} else { Issue.record("non-JSON header accepted") }
        if case .headerNotJSON? = problem(raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{}}"#, data: f32x2)) {} else {
            Issue.record("duplicate tensor name accepted")
        }
        #expect(problem(raw("[1,2]")) == .headerNotObject)
        #expect(problem(raw(#"{"__metadata__":{"k":1}}"#)) == .invalidMetadata(reason: "value of \"k\" is a number, not a string"))
        #expect(problem(raw(#"{"__metadata__":[]}"#)) == .invalidMetadata(reason: "not an object"))
        #expect(problem(raw(#"{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#, data: f32x2)) == .unknownDType(tensor: "a", dtype: "F33"))
        #expect(problem(raw(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: f32x2))
                == .sizeMismatch(tensor: "a", expectedBytes: 12, declaredBytes: 8))
        for bad in [#"[-2]"#, #"[2.0]"#, #"["2"]"#, #"2"#] {
            if case .invalidEntry? = problem(raw(#"{"a":{"dtype":"F32","shape":\#(bad),"data_offsets":[0,8]}}"#, data: f32x2)) {} else {
                Issue.record("shape \(bad) accepted")
            }
        }
        for bad in [#"[0]"#, #"[8,0]"#, #"[0,-8]"#, #"[0,8,9]"#, #"[0,99999]"#, #"[0.0,8]"#] {
            if case .invalidEntry? = problem(raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":\#(bad)}}"#, data: f32x2)) {} else {
                Issue.record("data_offsets \(bad) accepted")
            }
        }
        if case .invalidEntry? = problem(raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#, data: f32x2)) {} else {
            Issue.record("unknown field accepted")
        }
        if case .invalidEntry? = problem(raw(#"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, data: f32x2)) {} else {
            Issue.record("missing dtype accepted")
        }
        if case .invalidEntry? = problem(raw(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: f32x2)) {} else {
            Issue.record("overflowing shape accepted")
        }
        // overlap and gap
        #expect(problem(raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: f32x2))
                == .offsetsNotContiguous(tensor: "b", expectedBegin: 8, begin: 4))
        #expect(problem(raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: f32x2))
                == .offsetsNotContiguous(tensor: "a", expectedBegin: 0, begin: 4))
        #expect(problem(raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: f32x2))
                == .dataLengthMismatch(covered: 4, actual: 8))
    }

    @Test func errorsNameTheSource() {
        do {
            _ = try SafeTensorsFile.read(contentsOf: "/nonexistent/model.safetensors")
            Issue.record("reading a missing file succeeded")
        } catch {
            #expect(error.description.hasPrefix("/nonexistent/model.safetensors: open failed"))
            #expect(error.problem == .io(operation: "open", errno: ENOENT))
        }
        #expect(SafeTensorsError(source: "f", .missingTensor("w")).description == "f: no tensor named \"w\"")
    }
}
