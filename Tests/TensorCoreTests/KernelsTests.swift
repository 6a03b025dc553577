import CKernels
import Testing
@testable import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// The C vector kernels at every level this machine supports, against the LSTM step written out in double
/// precision with libm. Hidden sizes cover whole vectors, a tail only, and both; rows are strided as the
/// LSTM layer lays them out (step rows of a whole sequence).
@Suite struct KernelsTests {
    static let levels = KernelISA.allCases.filter { $0 <= KernelISA.supported }

    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    /// Values in (-scale, scale) from a fixed generator.
    static func values(_ n: Int, scale: Float, seed: UInt64) -> [Float] {
        var rng = RandomGenerator(seed: seed)
        return (0..<n).map { _ in Float.random(in: -scale..<scale, using: &rng) }
    }

    @Test(arguments: [5, 16, 21, 32, 40])
    func forwardStepMatchesTheFormulas(hidden h: Int) {
        let batch = 3, stride = 4 * h + 7, outStride = 2 * h + 3, tanhStride = h + 2
        let pre = Self.values(batch * stride, scale: 6, seed: 1)
        let cPrev = Self.values(batch * outStride, scale: 2, seed: 2)
        for isa in Self.levels {
            for hasPrev in [false, true] {
                var gates = pre
                var out = [Float](repeating: .nan, count: batch * outStride)
                var tanhC = [Float](repeating: .nan, count: batch * tanhStride)
                cPrev.withUnsafeBufferPointer { cp in
                    Kernels.lstmForwardStep(
                        batch: batch, hidden: h, gates: &gates,
                        gatesStride: stride, cPrev: hasPrev ? cp.baseAddress! + h : nil, cPrevStride: outStride,
                        out: &out, outStride: outStride,
                        tanhC: &tanhC, tanhCStride: tanhStride, isa: isa)
                }
                var worst = 0.0
                for b in 0..<batch {
                    for j in 0..<h {
                        let g = { (k: Int) in Double(pre[b * stride + k * h + j]) }
                        let (i, f, gg, o) = (Self.sigmoid(g(0)), Self.sigmoid(g(1)), tanh(g(2)), Self.sigmoid(g(3)))
                        let c = f * (hasPrev ? Double(cPrev[b * outStride + h + j]) : 0) + i * gg
                        let expected: [(Double, Float)] = [
                            (i, gates[b * stride + j]), (f, gates[b * stride + h + j]),
                            (gg, gates[b * stride + 2 * h + j]), (o, gates[b * stride + 3 * h + j]),
                            (c, out[b * outStride + h + j]), (tanh(c), tanhC[b * tanhStride + j]),
                            (o * tanh(c), out[b * outStride + j]),
                        ]
                        for (want, got) in expected { worst = max(worst, abs(want - Double(got))) }
                    }
                    // Padding between rows is never written.
                    #expect(gates[(b * stride + 4 * h)..<((b + 1) * stride)] == pre[(b * stride + 4 * h)..<((b + 1) * stride)])
                    #expect(out[(b * outStride + 2 * h)..<((b + 1) * outStride)].allSatisfy { $0.isNaN })
                }
                #expect(worst < 2e-6, "\(isa) hidden \(h) prev \(hasPrev): max abs error \(worst)")
            }
        }
    }

    @Test(arguments: [5, 16, 21, 40])
    func backwardStepMatchesTheFormulas(hidden h: Int) {
        let batch = 3, gStride = 4 * h + 5, oStride = 2 * h + 1, tStride = h + 3
        // Activated gates in (0, 1) for i, f, o and (-1, 1) for g; tanh(c) in (-1, 1).
        let raw = Self.values(batch * gStride, scale: 1, seed: 3)
        let gates = raw.enumerated().map { k, v in (k % gStride) / h == 2 ? v : 0.5 * v + 0.5 }
        let tanhC = Self.values(batch * tStride, scale: 1, seed: 4)
        let dOut = Self.values(batch * oStride, scale: 1, seed: 5)
        let prev = Self.values(batch * oStride, scale: 2, seed: 6)
        let dh = Self.values(batch * h, scale: 1, seed: 7), dcIn = Self.values(batch * h, scale: 1, seed: 8)
        for isa in Self.levels {
            for hasPrev in [false, true] {
                var dc = dcIn
                var dGates = [Float](repeating: .nan, count: batch * gStride)
                // Accumulators with something in them already: the kernel adds to them.
                let sumStride = 4 * h + 2
                var dSum = Self.values(batch * sumStride, scale: 1, seed: 11), dBias = Self.values(4 * h, scale: 1, seed: 12)
                let (dSumIn, dBiasIn) = (dSum, dBias)
                var hCopy = [Float](repeating: .nan, count: batch * tStride)
                prev.withUnsafeBufferPointer { pp in
                    Kernels.lstmBackwardStep(
                        batch: batch, hidden: h, gates: gates, gatesStride: gStride, tanhC: tanhC, tanhCStride: tStride,
                        dOut: dOut, dOutStride: oStride, prev: hasPrev ? pp.baseAddress! : nil, prevStride: oStride,
                        dhCarry: dh, dcCarry: &dc,
                        dGates: &dGates, dGatesStride: gStride,
                        hPrevCopy: &hCopy, hPrevCopyStride: tStride,
                        dGatesSum: &dSum, dGatesSumStride: sumStride,
                        dBias: &dBias, isa: isa)
                }
                var worst = 0.0
                var biasSum = dBiasIn.map(Double.init)
                for b in 0..<batch {
                    for j in 0..<h {
                        let g = { (k: Int) in Double(gates[b * gStride + k * h + j]) }
                        let (i, f, gg, o) = (g(0), g(1), g(2), g(3))
                        let t = Double(tanhC[b * tStride + j])
                        let hp = hasPrev ? Double(prev[b * oStride + j]) : 0, cp = hasPrev ? Double(prev[b * oStride + h + j]) : 0
                        let dhv = Double(dOut[b * oStride + j]) + Double(dh[b * h + j])
                        let dcv = Double(dOut[b * oStride + h + j]) + Double(dcIn[b * h + j]) + dhv * o * (1 - t * t)
                        let expected: [(Double, Float)] = [
                            (dcv * gg * i * (1 - i), dGates[b * gStride + j]),
                            (dcv * cp * f * (1 - f), dGates[b * gStride + h + j]),
                            (dcv * i * (1 - gg * gg), dGates[b * gStride + 2 * h + j]),
                            (dhv * t * o * (1 - o), dGates[b * gStride + 3 * h + j]),
                            (dcv * f, dc[b * h + j]), (hp, hCopy[b * tStride + j]),
                        ]
                        for (want, got) in expected { worst = max(worst, abs(want - Double(got))) }
                        for k in 0..<4 {
                            let gate = [expected[0].0, expected[1].0, expected[2].0, expected[3].0][k]
                            let at = b * sumStride + k * h + j
                            worst = max(worst, abs(Double(dSumIn[at]) + gate - Double(dSum[at])))
                            biasSum[k * h + j] += gate
                        }
                    }
                    #expect(dGates[(b * gStride + 4 * h)..<((b + 1) * gStride)].allSatisfy { $0.isNaN })
                    #expect(dSum[(b * sumStride + 4 * h)..<((b + 1) * sumStride)] == dSumIn[(b * sumStride + 4 * h)..<((b + 1) * sumStride)])
                }
                for (want, got) in zip(biasSum, dBias) { worst = max(worst, abs(want - Double(got))) }
                #expect(worst < 1e-5, "\(isa) hidden \(h) prev \(hasPrev): max abs error \(worst)")
            }
        }
    }

    @Test func levelsAgreeWithinRounding() {
        // The widest level and the baseline compute the same formulas: outputs agree to float rounding.
        guard let widest = Self.levels.last, widest != .baseline else { return }
        let h = 24, batch = 5
        let pre = Self.values(batch * 4 * h, scale: 8, seed: 9), cPrev = Self.values(batch * h, scale: 3, seed: 10)
        func run(_ isa: KernelISA) -> [Float] {
            var gates = pre
            var out = [Float](repeating: 0, count: batch * 2 * h), tc = [Float](repeating: 0, count: batch * h)
            Kernels.lstmForwardStep(
                batch: batch, hidden: h, gates: &gates, gatesStride: 4 * h,
                cPrev: cPrev, cPrevStride: h, out: &out, outStride: 2 * h,
                tanhC: &tc, tanhCStride: h, isa: isa)
            return gates + out + tc
        }
        let a = run(.baseline), b = run(widest)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-6, "baseline vs \(widest): \(worst)")
    }

    @Test func environmentLimitIsParsedStrictly() throws {
        #expect(try KernelISA.limit(named: nil) == nil)
        #expect(try KernelISA.limit(named: "baseline") == .baseline)
        #expect(try KernelISA.limit(named: "avx2") == .avx2)
        #expect(try KernelISA.limit(named: "avx512") == .avx512)
        #expect(throws: KernelISAError.unknownLevel("AVX2")) { try KernelISA.limit(named: "AVX2") }
        #expect(throws: KernelISAError.unknownLevel("")) { try KernelISA.limit(named: "") }
        #expect(KernelISA.active <= KernelISA.supported)
    }
}

/// The AVX-512 matrix kernel against OpenBLAS (`isa: .baseline` forces it) over transposes, strides, tails
/// of rows and columns, alpha and beta; beta 0 must not read C (NaN there stays out of the result).
@Suite struct SmallGEMMTests {
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (3, 5, 7), (64, 64, 16), (64, 16, 64), (64, 3, 768), (768, 64, 3), (13, 17, 33),
        (9, 48, 20), (7, 65, 5), (5, 130, 2), (33, 31, 129), (40, 100, 300),   // the last packs on the heap
    ]

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matchesOpenBLAS(_ transposeA: Bool, _ transposeB: Bool) throws {
        guard KernelISA.supported == .avx512 else { return }
        var rng = RandomGenerator(seed: 21)
        for (m, n, k) in Self.shapes {
            for (alpha, beta) in [(1, 0), (0.5, 1), (1, -2)] as [(Float, Float)] {
                let (lda, ldb, ldc) = ((transposeA ? m : k) + 3, (transposeB ? k : n) + 2, n + 5)
                let a = (0..<((transposeA ? k : m) * lda)).map { _ in Float.random(in: -1..<1, using: &rng) }
                let b = (0..<((transposeB ? n : k) * ldb)).map { _ in Float.random(in: -1..<1, using: &rng) }
                let c0 = (0..<(m * ldc)).map { _ in beta == 0 ? Float.nan : Float.random(in: -1..<1, using: &rng) }
                var blas = c0, kernel = c0
                blas.withUnsafeMutableBufferPointer { cp in
                    BLAS.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                               a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: cp.baseAddress!, ldc: ldc, isa: .baseline)
                }
                let taken = kernel.withUnsafeMutableBufferPointer { cp in
                    aef_sgemm_small(Int32(KernelISA.avx512.rawValue), transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k,
                                    alpha, a, lda, b, ldb, beta, cp.baseAddress!, ldc)
                }
                #expect(taken == 1)
                var worst: Float = 0
                for i in 0..<m {
                    for j in 0..<n { worst = max(worst, abs(kernel[i * ldc + j] - blas[i * ldc + j])) }
                    // Padding columns of C are untouched.
                    for j in n..<ldc { #expect(kernel[i * ldc + j].bitPattern == c0[i * ldc + j].bitPattern) }
                }
                #expect(worst <= 1e-5 * Float(k).squareRoot(), "\(m)×\(n)×\(k) tA \(transposeA) tB \(transposeB) α \(alpha) β \(beta): \(worst)")
            }
        }
    }

    @Test func declinesBelowAVX512AndForPanelsBeyondItsLimit() {
        // The caller falls back to OpenBLAS; C is left alone. Declined: a level below AVX-512, an op(B)
        // over the panel limit, and a large op(B) to pack for fewer than 32 rows of A.
        let k = Int(AEF_SGEMM_SMALL_PANEL) / 16 + 1
        let a = [Float](repeating: 1, count: 4 * k), b = [Float](repeating: 1, count: 100 * k)
        var c = [Float](repeating: 7, count: 400)
        let taken = c.withUnsafeMutableBufferPointer { cp in
            [aef_sgemm_small(Int32(KernelISA.avx2.rawValue), 0, 0, 1, 1, 1, 1, a, 1, b, 1, 0, cp.baseAddress!, 1),
             aef_sgemm_small(Int32(KernelISA.avx512.rawValue), 0, 1, 1, 3, k, 1, a, k, b, k, 0, cp.baseAddress!, 3),
             aef_sgemm_small(Int32(KernelISA.avx512.rawValue), 0, 1, 4, 100, 300, 1, a, 300, b, 300, 0, cp.baseAddress!, 100)]
        }
        #expect(taken == [0, 0, 0] && c.allSatisfy { $0 == 7 })
    }
}

/// The small dense kernel at every level this machine supports, against the layer written out in double
/// precision: rows in whole blocks of four and every remainder, outputs of whole vectors, a tail only and both,
/// each fused activation. Padding past the weight and bias is NaN: a lane read there must never reach `y`, and
/// `y` past its rows is left alone.
@Suite struct DenseKernelTests {
    static let shapes: [(rows: Int, inputs: Int, outputs: Int)] = [
        (1, 36, 16), (1, 16, 8), (1, 8, 16), (1, 16, 36), (2, 7, 5), (3, 12, 16), (4, 33, 17), (5, 1, 1), (7, 20, 48), (9, 3, 64),
    ]

    @Test(arguments: [Kernels.DenseActivation.identity, .relu, .tanh])
    func matchesTheFormula(_ activation: Kernels.DenseActivation) {
        for (rows, ni, no) in Self.shapes {
            let x = KernelsTests.values(rows * ni, scale: 2, seed: 21)
            let wb = KernelsTests.values(ni * no + no, scale: 1, seed: 22)
            let params = wb + [Float](repeating: .nan, count: Kernels.densePadding)
            for isa in KernelsTests.levels {
                var y = [Float](repeating: 7, count: rows * no + 5)
                params.withUnsafeBufferPointer { p in
                    Kernels.dense(rows: rows, inputs: ni, outputs: no, x: x, weight: p.baseAddress!, bias: p.baseAddress! + ni * no,
                                  y: &y, activation: activation, isa: isa)
                }
                var worst = 0.0
                for r in 0..<rows {
                    for j in 0..<no {
                        var s = Double(wb[ni * no + j])
                        for c in 0..<ni { s += Double(x[r * ni + c]) * Double(wb[c * no + j]) }
                        let want = switch activation {
                        case .identity: s
                        case .relu: max(s, 0)
                        case .tanh: tanh(s)
                        }
                        worst = max(worst, abs(Double(y[r * no + j]) - want))
                    }
                }
                #expect(worst < 1e-5, "\(isa) \(rows)×\(ni)→\(no) \(activation): max abs error \(worst)")
                #expect(y[(rows * no)...].allSatisfy { $0 == 7 }, "\(isa) \(rows)×\(ni)→\(no): wrote past its rows")
            }
        }
    }
}
