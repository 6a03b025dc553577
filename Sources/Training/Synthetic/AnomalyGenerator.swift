import TensorCore

/// The result of injecting anomalies: the modified data, a 0/1 label per row, and a 0/1 mask per cell.
public struct InjectedAnomalies: Sendable {
    public var data: Tensor
    public var labels: [Int]
    public var mask: Tensor
    public var columns: [Int]
}

/// Injects labelled anomalies into a series, following numalogic's `AnomalyGenerator` rules.
///
/// A standard scaler fitted on `reference` defines the space: per column the reference's scaled min and
/// max. A block of `ceil(N·ratio)` rows of the scaled target is shifted, with noise `n ~ N(mu, sigma)` per
/// point, then scaled back:
/// * `global` (impact 3): `b += n + impact·|max − mean(b)|·|b|·sign`, own random start per column;
/// * `contextual` (impact 1): towards whichever of min/max the block is nearer to leaves;
/// * `collective` (impact 0.8): the contextual rule with one start shared by all columns;
/// * `causal` (impact 2): columns in sequence, each block starting 5–20 rows after the previous one ends,
///   a coin choosing the rule.
/// Deliberate differences: labels are 0/1 (numalogic adds a count per injected column), random columns are
/// drawn without replacement, and every draw uses the seeded generator.
public struct AnomalyGenerator: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case global, contextual, collective, causal }

    public var kind: Kind
    public var ratio: Double
    public var sign: Float
    public var mu: Float
    public var sigma: Float
    public var impact: Float
    public var seed: UInt64
    let mean: [Float], std: [Float], refMin: [Float], refMax: [Float]

    public init(reference: Tensor, kind: Kind = .global, ratio: Double = 0.1, positive: Bool = true,
                mu: Float = 0.1, sigma: Float = 0.01, impact: Float? = nil, seed: UInt64 = 42) {
        precondition(reference.rank == 2 && reference.shape[0] > 1, "anomaly reference must be (rows > 1, features), got \(reference.shape)")
        precondition(ratio > 0 && ratio < 1, "anomaly ratio must be in (0, 1), got \(ratio)")
        (self.kind, self.ratio, self.sign, self.mu, self.sigma, self.seed) = (kind, ratio, positive ? 1 : -1, mu, sigma, seed)
        self.impact = impact ?? [.global: 3, .contextual: 1, .collective: 0.8, .causal: 2][kind]!
        let m = reference.mean(alongAxes: [0])
        let sd = reference.variance(alongAxes: [0]).sqrt().map { $0 < 1e-12 ? 1 : $0 }
        let scaled = (reference - m) / sd
        (mean, std) = (m.scalars, sd.scalars)
        (refMin, refMax) = (scaled.min(alongAxes: [0]).scalars, scaled.max(alongAxes: [0]).scalars)
    }

    /// Injects into `target` (same feature count as the reference). `columns` defaults to a random choice
    /// of one column (global, contextual) or two (collective, causal); `start` fixes the first block's row.
    public func inject(into target: Tensor, columns: [Int]? = nil, start: Int? = nil) -> InjectedAnomalies {
        let (n, f) = (target.shape[0], target.shape[1])
        precondition(target.rank == 2 && f == mean.count, "anomaly target \(target.shape) does not match the reference's \(mean.count) features")
        var rng = RandomGenerator(seed: seed)
        let block = min(n, Int((Double(n) * ratio).rounded(.up)))
        let cols = columns ?? Array((0..<f).shuffled(using: &rng).prefix(kind == .global || kind == .contextual ? 1 : min(2, f)))
        var x = target.scalars
        var maskValues = [Float](repeating: 0, count: n * f)
        func randomStart(_ rng: inout RandomGenerator) -> Int { n > block ? Int(rng.next() % UInt64(n - block)) : 0 }
        let sharedStart = start ?? randomStart(&rng)
        var causalStart = start ?? Int(rng.next() % UInt64(max(1, n / 4)))
        for (k, c) in cols.enumerated() {
            let s: Int
            switch kind {
            case .global, .contextual: s = start ?? randomStart(&rng)
            case .collective: s = sharedStart
            case .causal:
                if k > 0 { causalStart += block + 5 + Int(rng.next() % 16) }
                s = min(causalStart, n - block)
            }
            var b = (s..<(s + block)).map { (x[$0 * f + c] - mean[c]) / std[c] }
            let avg = b.reduce(0, +) / Float(b.count)
            let towardsMin: Bool
            switch kind {
            case .global: towardsMin = false
            case .contextual, .collective:
                towardsMin = norm(b.map { $0 - refMin[c] }) > norm(b.map { $0 - refMax[c] })
            case .causal: towardsMin = rng.next() & 1 == 0
            }
            for i in 0..<b.count {
                let noise = mu + sigma * rng.nextNormal()
                let magnitude: Float
                if kind == .global {
                    magnitude = impact * abs(refMax[c] - avg) * abs(b[i]) * sign
                    b[i] += noise + magnitude
                } else if towardsMin {
                    b[i] -= noise + impact * abs(refMin[c] - avg) * abs(b[i]) * sign
                } else {
                    b[i] += noise + impact * abs(avg - refMax[c]) * abs(b[i]) * sign
                }
                x[(s + i) * f + c] = b[i] * std[c] + mean[c]
                maskValues[(s + i) * f + c] = 1
            }
        }
        let labels = (0..<n).map { r in (0..<f).contains { maskValues[r * f + $0] != 0 } ? 1 : 0 }
        return InjectedAnomalies(data: Tensor(shape: target.shape, scalars: x), labels: labels,
                                 mask: Tensor(shape: target.shape, scalars: maskValues), columns: cols)
    }

    private func norm(_ v: [Float]) -> Float { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}
