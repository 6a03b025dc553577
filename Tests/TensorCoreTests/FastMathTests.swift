import Testing
@testable import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// The vectorisable exp/tanh/sigmoid against libm in double precision over a dense sweep.
@Suite struct FastMathTests {
    static let sweep: [Float] = stride(from: -100.0, through: 100.0, by: 0.00731).map { Float($0) }
        + [0, -0.0, 1e-8, -1e-8, 3e-4, 88.7, 88.8, -87.3, -87.4, -103, 1000, -1000]

    @Test func expRelativeErrorWithinTwoUlp() {
        var worst: Double = 0
        for x in Self.sweep {
            let ref = Glibc.exp(Double(x))
            let got = Double(ScalarMath.fastExp(x))
            if ref > Double(Float.greatestFiniteMagnitude) { #expect(got == .infinity, "exp(\(x))"); continue }
            if ref < Double(Float.leastNormalMagnitude) { #expect(got < 1e-37, "exp(\(x))"); continue }
            worst = max(worst, abs(got - ref) / ref)
        }
        #expect(worst < 2.5e-7, "max relative error \(worst)")
        #expect(ScalarMath.fastExp(.nan).isNaN)
        #expect(ScalarMath.fastExp(.infinity) == .infinity && ScalarMath.fastExp(-.infinity) == 0)
    }

    @Test func tanhAndSigmoidAbsoluteError() {
        var worstTanh: Double = 0, worstSigmoid: Double = 0
        for x in Self.sweep {
            worstTanh = max(worstTanh, abs(Double(ScalarMath.fastTanh(x)) - Glibc.tanh(Double(x))))
            worstSigmoid = max(worstSigmoid, abs(Double(ScalarMath.fastSigmoid(x)) - 1 / (1 + Glibc.exp(-Double(x)))))
        }
        #expect(worstTanh < 3e-7, "tanh max abs error \(worstTanh)")
        #expect(worstSigmoid < 2e-7, "sigmoid max abs error \(worstSigmoid)")
        #expect(ScalarMath.fastTanh(1e-6) == 1e-6)
        #expect(ScalarMath.fastTanh(50) == 1 && ScalarMath.fastTanh(-50) == -1)
        #expect(ScalarMath.fastSigmoid(-200) == 0 && ScalarMath.fastSigmoid(200) == 1)
    }
}
