// Branch-free float32 exp and tanh that the optimiser can vectorise (libm's expf/tanhf are scalar calls,
// ~10–20 ns per element, which dominated elementwise kernels on layers of a few hundred units).
//
// exp: Cody–Waite range reduction x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split into a high part exact in
// float and a low correction), a degree-6 Taylor/minimax polynomial for eʳ, and 2ⁿ assembled in the
// exponent bits. Relative error ≤ 2 ulp over the finite range; overflow → +inf, underflow → 0.
// tanh: odd rational approximation x·P(x²)/Q(x²) on |x| ≤ 7.90531 (beyond which tanh rounds to ±1
// in float32), with |x| < 4e-4 returned as x. Absolute error ≤ 3e-7.
// Both are checked against libm in TensorCoreTests/FastMathTests.

extension ScalarMath {
    @inlinable @inline(__always)
    public static func fastExp(_ x: Float) -> Float {
        // Clamp to the range where the result is finite and normal-or-subnormal-zero.
        let xc = x.isNaN ? 0 : Swift.min(Swift.max(x, -87.33654), 88.72283)
        // Round to nearest with the 1.5·2²³ trick (exact for |v| < 2²²): `rounded()` is a libm call that
        // stops the loop from vectorising. The integer n is read from the low mantissa bits of the shifted
        // value: `Int32(n)` would check its range and that trap alone keeps the loop scalar (~2.5× slower).
        let shifted = xc * 1.442695041 + 12_582_912
        let n = shifted - 12_582_912
        let r = (xc - n * 0.693359375) + n * 2.12194440e-4   // ln2 = 0.693359375 − 2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let er = (p * r) * r + r + 1
        // 2ⁿ as two factors so that n = 128 (results just below Float.greatestFiniteMagnitude) stays finite.
        let ni = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000, n1 = ni >> 1, n2 = ni &- n1
        let scaled = er * Float(bitPattern: UInt32(bitPattern: n1 &+ 127) << 23)
            * Float(bitPattern: UInt32(bitPattern: n2 &+ 127) << 23)
        // Inputs beyond the clamp saturate like libm; NaN propagates.
        if x > 88.72283 { return .infinity }
        if x < -87.33654 { return 0 }
        return x.isNaN ? x : scaled
    }

    @inlinable @inline(__always)
    public static func fastTanh(_ x: Float) -> Float {
        let xc = Swift.min(Swift.max(x, -7.90531110763549805), 7.90531110763549805)
        let x2 = xc * xc
        var p: Float = -2.76076847742355e-16
        p = p * x2 + 2.00018790482477e-13
        p = p * x2 + -8.60467152213735e-11
        p = p * x2 + 5.12229709037114e-08
        p = p * x2 + 1.48572235717979e-05
        p = p * x2 + 6.37261928875436e-04
        p = p * x2 + 4.89352455891786e-03
        p = p * xc
        var q: Float = 1.19825839466702e-06
        q = q * x2 + 1.18534705686654e-04
        q = q * x2 + 2.26843463243900e-03
        q = q * x2 + 4.89352518554385e-03
        let t = p / q
        return Swift.abs(x) < 0.0004 ? x : t
    }

    /// Logistic sigmoid through ``fastExp(_:)``: `1/(1 + e^(−x))`, exact limits 0 and 1.
    @inlinable @inline(__always)
    public static func fastSigmoid(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }
}
