import TensorCore

#if canImport(Glibc)
import Glibc
#endif

/// A generated multi-series dataset: timestamps (epoch milliseconds) and values `(N, series)`.
public struct SyntheticSeries: Sendable {
    public var timestamps: [Int64]
    public var values: Tensor
    public var names: [String]

    /// Rows `range` of every series.
    public func rows(_ range: Range<Int>) -> SyntheticSeries {
        SyntheticSeries(timestamps: Array(timestamps[range]), values: values.slice(axis: 0, range), names: names)
    }
}

/// Seasonal series with trend and noise, structured like numalogic's `SyntheticTSGenerator`.
///
/// Each series is `baseline + slope·t + noise·N(0, 1) + seasonality`, seasonal with probability
/// `seasonalProbability`: a primary period (cosine over the first `ratio` of the period, then a ramp) plus
/// a secondary period at a third of the amplitude. Draws come from AEFlow's seeded generator, so a seed
/// reproduces the data (the values differ from numpy's streams, the structure is the same).
public struct SyntheticSeriesGenerator: Sendable {
    public var length: Int
    public var numSeries: Int
    public var frequencySeconds: Int64 = 60
    public var primaryPeriod: Double = 1440
    public var secondaryPeriod: Double? = 10080
    public var seasonalProbability: Double = 0.7
    public var baselineRange: ClosedRange<Double> = 200...350
    public var slopeRange: ClosedRange<Double> = -0.001...0.01
    public var amplitudeRange: ClosedRange<Double> = 10...40
    public var cosineRatioRange: ClosedRange<Double> = 0.5...0.9
    public var noiseRange: ClosedRange<Double> = 5...15
    public var phaseShiftRange: ClosedRange<Double>? = nil
    public var seed: UInt64 = 42
    /// Timestamp of the last row (default 2023-11-15T00:00:00Z, fixed so output is reproducible).
    public var endTimestamp: Int64 = 1_700_006_400_000

    public init(length: Int, numSeries: Int) {
        self.length = length
        self.numSeries = numSeries
    }

    public func generate() -> SyntheticSeries {
        precondition(length > 0 && numSeries > 0, "synthetic series need a positive length and count")
        var rng = RandomGenerator(seed: seed)
        func uniform(_ r: ClosedRange<Double>) -> Double { r.lowerBound + (r.upperBound - r.lowerBound) * Double(rng.nextUniform()) }
        let seasonal = (0..<numSeries).map { _ in Double(rng.nextUniform()) < seasonalProbability }
        var values = [Float](repeating: 0, count: length * numSeries)
        for s in 0..<numSeries {
            var season = [Double](repeating: 0, count: length)
            if seasonal[s] {
                func seasonality(period: Double, reduction: Double) {
                    let phase = phaseShiftRange.map { uniform($0) } ?? 0
                    let ratio = uniform(cosineRatioRange)
                    let amp = uniform(amplitudeRange) / reduction
                    for t in 0..<length {
                        let u = (Double(t) + phase).truncatingRemainder(dividingBy: period) / period
                        season[t] += amp * (u < ratio ? cos(2 * Double.pi * u) : u)
                    }
                }
                seasonality(period: primaryPeriod, reduction: 1)
                if let p = secondaryPeriod { seasonality(period: p, reduction: 3) }
            }
            let baseline = uniform(baselineRange)
            let slope = uniform(slopeRange)
            let level = uniform(noiseRange)
            for t in 0..<length {
                let noise = level * Double(rng.nextNormal())
                values[t * numSeries + s] = Float(baseline + slope * Double(t) + noise + season[t])
            }
        }
        let step = frequencySeconds * 1000
        let timestamps = (0..<length).map { endTimestamp - Int64(length - 1 - $0) * step }
        return SyntheticSeries(timestamps: timestamps, values: Tensor(shape: [length, numSeries], scalars: values),
                               names: (1...numSeries).map { "s\($0)" })
    }
}
