/// RFC 3339 / ISO 8601 timestamps ↔ epoch milliseconds (UTC), without Foundation's formatters.
public enum RFC3339 {
    /// `2023-11-15T00:00:00.000Z` for epoch milliseconds.
    public static func format(milliseconds ms: Int64) -> String {
        let days = floorDiv(ms, 86_400_000), rem = ms - days * 86_400_000
        let (y, m, d) = civil(fromDays: days)
        let h = rem / 3_600_000, mi = rem / 60_000 % 60, s = rem / 1000 % 60, frac = rem % 1000
        func p(_ v: Int64, _ w: Int) -> String { let t = String(v); return String(repeating: "0", count: max(0, w - t.count)) + t }
        return "\(p(y, 4))-\(p(m, 2))-\(p(d, 2))T\(p(h, 2)):\(p(mi, 2)):\(p(s, 2)).\(p(frac, 3))Z"
    }

    /// Parses `YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]][Z|±HH[:]MM]` (no zone means UTC) or a bare date.
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int64? {
            guard i + n <= b.count else { return nil }
            var v: Int64 = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool { guard i < b.count, b[i] == c else { return false }; i += 1; return true }
        guard let y = digits(4), expect(45), let mo = digits(2), expect(45), let d = digits(2),
              (1...12).contains(mo), (1...31).contains(d) else { return nil }
        var ms = civilDays(y, mo, d) * 86_400_000
        if i == b.count { return ms }
        guard i < b.count, b[i] == 84 || b[i] == 116 || b[i] == 32 else { return nil }
        i += 1
        guard let h = digits(2), expect(58), let mi = digits(2), h < 24, mi < 60 else { return nil }
        ms += h * 3_600_000 + mi * 60_000
        if expect(58) {
            guard let s = digits(2), s < 61 else { return nil }
            ms += s * 1000
            if expect(46) {
                var scale: Int64 = 100, frac: Int64 = 0, count = 0
                while i < b.count, b[i] >= 48 && b[i] <= 57 {
                    if scale > 0 { frac += Int64(b[i] - 48) * scale; scale /= 10 }
                    i += 1
                    count += 1
                }
                guard count > 0 else { return nil }
                ms += frac
            }
        }
        if i == b.count { return ms }
        if b[i] == 90 || b[i] == 122 { i += 1; return i == b.count ? ms : nil }
        guard b[i] == 43 || b[i] == 45 else { return nil }
        let sign: Int64 = b[i] == 43 ? 1 : -1
        i += 1
        guard let oh = digits(2) else { return nil }
        _ = expect(58)
        guard let om = digits(2), i == b.count else { return nil }
        return ms - sign * (oh * 3_600_000 + om * 60_000)
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func civilDays(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
