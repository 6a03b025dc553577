/// A decimal `w × 10^q` (w < 2^64, the digits of up to 19 significant digits) as the nearest double, ties to even —
/// the double `strtod` returns for the same text — without the text: one 64×128-bit multiplication by a table
/// entry for 5^q (the method of Eisel and Lemire, "Number Parsing at a Gigabyte per Second", Lemire 2021).
///
/// The product is exact to within 2 units of its 128th bit (exact for 5^0 … 5^27); where those 2 units could decide
/// the rounding (the value within them of a halfway point between two doubles: in practice only exact halfway
/// decimals such as "9007199254740993.0"), and for results outside the normal range (subnormal, overflow), the
/// answer is nil and the caller reads the text instead. strtod costs ~100 ns for a 17-digit value, this a few.
enum DecimalToDouble {
    static func value(significand w: UInt64, exponent q: Int, negative: Bool) -> Double? {
        if w == 0 { return negative ? -0.0 : 0.0 }
        guard q >= powersOfFiveMinExponent, q <= powersOfFiveMaxExponent else { return nil }
        // w normalised to [2^63, 2^64); T(q) in [2^127, 2^128), 5^q = T(q) × 2^E(q), T rounded down.
        let lz = w.leadingZeroBitCount
        let wn = w &<< UInt64(lz)
        let (tHi, tLo) = powersOfFive128.withUnsafeBufferPointer { t in
            let at = (q - powersOfFiveMinExponent) &* 2
            return (t[at], t[at &+ 1])
        }
        // The top 128 bits (hi:lo) of the 192-bit wn × T. Both truncations (of T, and of the product's low 64 bits)
        // only lower it: the exact value lies in [(hi:lo), (hi:lo) + 2).
        let upper = wn.multipliedFullWidth(by: tHi), lower = wn.multipliedFullWidth(by: tLo)
        let lo = upper.low &+ lower.high
        let hi = upper.high &+ (lo < upper.low ? 1 : 0)
        // hi has 63 or 64 significant bits: the double's 53 are its top ones; the `cut` bits below them and `lo` are
        // the rest, rounded half to even.
        let msb = Int(hi >> 63)
        let cut = 10 &+ msb
        var mantissa = hi >> UInt64(cut)
        let restHi = hi & ((1 << UInt64(cut)) &- 1), half = UInt64(1) << UInt64(cut &- 1)
        if q >= 0, q <= 55, lower.low == 0 {
            // T(q) is 5^q itself (below 2^128) and nothing was dropped: the product is exact, a tie is a tie (an
            // integer halfway between two doubles above 2^53), to even.
            if restHi > half || (restHi == half && (lo > 0 || mantissa & 1 == 1)) { mantissa &+= 1 }
        } else {
            // Undecidable here: the exact rest may be the halfway point itself or lie on its other side.
            if (restHi == half && lo <= 3) || (restHi == half &- 1 && lo >= UInt64.max &- 3) { return nil }
            if restHi >= half { mantissa &+= 1 }
        }
        // value = mantissa × 2^(cut + 128 + E(q) + q − lz); as a double 1.f × 2^e, e = that + 52.
        var e = 52 &+ cut &+ 128 &+ (((q &* 152_170) >> 16) &- 127) &+ q &- lz
        if mantissa == 1 << 53 { mantissa = 1 << 52; e &+= 1 }
        let biased = e &+ 1023
        guard biased >= 1, biased <= 2046 else { return nil }   // subnormal, zero or infinite: the text decides
        let bits = (UInt64(biased) << 52) | (mantissa & ((1 << 52) &- 1)) | (negative ? 1 << 63 : 0)
        return Double(bitPattern: bits)
    }
}
