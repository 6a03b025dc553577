import TensorCore

/// Labelled series for evaluation, from the synthetic generators: seasonal series (daily and weekly periods at a
/// 5-minute cadence) of two correlated metrics, with three anomalies of one kind injected by numalogic's rules
/// into the last two thirds (the first third is the generator's reference). One series per (kind, index, seed).
public enum SyntheticCorpus {
    public struct Series: Sendable {
        public var name: String
        public var timestamps: [Int64]
        /// `(N, 2)`: `value` and `load` (a noisy scaled copy of the same seasonal pattern).
        public var values: Tensor
        public var metrics: [String]
        public var labels: [Int]
    }

    public static func series(kind: AnomalyGenerator.Kind, index: Int, length: Int = 4032, seed: UInt64 = 7) -> Series {
        var g = SyntheticSeriesGenerator(length: length, numSeries: 1)
        g.frequencySeconds = 300
        g.primaryPeriod = 288
        g.secondaryPeriod = 2016
        g.seasonalProbability = 1
        g.seed = seed &+ UInt64(index) &* 7919 &+ UInt64(AnomalyGenerator.Kind.allCases.firstIndex(of: kind)!) &* 104_729
        let base = g.generate()
        var rng = RandomGenerator(seed: g.seed ^ 0xA5A5)
        let scale = 0.5 + Double(rng.nextUniform())
        var x = [Float](repeating: 0, count: length * 2)
        for t in 0..<length {
            let v = base.values[t, 0]
            x[t * 2] = v
            x[t * 2 + 1] = Float(scale) * v + 3 * rng.nextNormal()
        }
        var data = Tensor(shape: [length, 2], scalars: x)
        var labels = [Int](repeating: 0, count: length)
        let reference = length / 3
        let segment = (length - reference) / 3
        for k in 0..<3 {
            let lo = reference + k * segment, hi = lo + segment
            let gen = AnomalyGenerator(reference: data.slice(axis: 0, 0..<reference), kind: kind, ratio: 0.03,
                                       positive: (k + index) % 2 == 0, seed: g.seed &+ UInt64(k))
            let injected = gen.inject(into: data.slice(axis: 0, lo..<hi))
            var all = data.scalars
            for r in 0..<(hi - lo) {
                for c in 0..<2 { all[(lo + r) * 2 + c] = injected.data[r, c] }
                if injected.labels[r] != 0 { labels[lo + r] = 1 }
            }
            data = Tensor(shape: [length, 2], scalars: all)
        }
        return Series(name: "\(kind.rawValue)_\(index + 1)", timestamps: base.timestamps, values: data, metrics: ["value", "load"], labels: labels)
    }
}
