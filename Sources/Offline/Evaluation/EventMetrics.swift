import TensorCore

/// A labelled anomaly window: the rows `first...last` of a series (inclusive).
public struct LabelledWindow: Sendable, Equatable {
    public var first: Int
    public var last: Int
    public init(first: Int, last: Int) {
        precondition(first <= last, "labelled window \(first)...\(last)")
        (self.first, self.last) = (first, last)
    }
    public var length: Int { last - first + 1 }
}

/// Event-level detection measures of one detector on one or more series (sums, so they aggregate).
///
/// Definitions (README "Detection quality", BENCHMARKS.md):
/// * an **event** is a labelled window; it is **detected** when at least one alarm falls inside it;
/// * every alarm (a row whose score is at or above the alert threshold) outside every window is a **false alarm**;
/// * rows of the **probation** period at the start of a series (the detector is still learning) are not
///   judged: alarms there are ignored, and windows that end there are not counted;
/// * **precision** = detected / (detected + false alarms), **recall** = detected / events;
/// * **delay** = rows from a detected window's first row to its first alarm;
/// * **early score**: the Numenta Anomaly Benchmark's "standard profile" weighting, written from its published
///   definition: a detected window earns `σ(y)` for its first alarm, where `y = (row − last) / length` runs from −1
///   at the window's start to 0 at its end and `σ(y) = 2/(1 + e^{5y}) − 1` (≈ 0.99 early, 0 late); a missed window
///   costs −1; each false alarm costs 0.11·|σ(y)| with `y` its distance after the previous window's end in
///   window lengths (−0.11 far from any window, less just after one). The sum is normalised per corpus between a
///   detector that never alarms (0) and one that alarms on each window's first row only (100).
public struct DetectionCounts: Sendable, Equatable {
    public var series = 0
    public var events = 0
    public var detected = 0
    public var falseAlarms = 0
    /// Rows judged (after probation).
    public var rows = 0
    public var delaySum = 0
    public var delays: [Int] = []
    public var earlyRaw = 0.0
    public var earlyNull = 0.0
    public var earlyPerfect = 0.0

    public init() {}

    public var precision: Double { detected + falseAlarms == 0 ? 0 : Double(detected) / Double(detected + falseAlarms) }
    public var recall: Double { events == 0 ? 0 : Double(detected) / Double(events) }
    public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }
    public var falseAlarmsPer1k: Double { rows == 0 ? 0 : 1000 * Double(falseAlarms) / Double(rows) }
    public var meanDelay: Double? { delays.isEmpty ? nil : Double(delaySum) / Double(delays.count) }
    public var medianDelay: Double? {
        guard !delays.isEmpty else { return nil }
        let s = delays.sorted()
        return s.count % 2 == 1 ? Double(s[s.count / 2]) : Double(s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    /// The early-detection score normalised to 0 (never alarms) … 100 (perfect); may be negative.
    public var earlyScore: Double {
        let span = earlyPerfect - earlyNull
        return span <= 0 ? 0 : 100 * (earlyRaw - earlyNull) / span
    }

    public static func + (a: DetectionCounts, b: DetectionCounts) -> DetectionCounts {
        var c = a
        c.series += b.series; c.events += b.events; c.detected += b.detected; c.falseAlarms += b.falseAlarms
        c.rows += b.rows; c.delaySum += b.delaySum; c.delays += b.delays
        c.earlyRaw += b.earlyRaw; c.earlyNull += b.earlyNull; c.earlyPerfect += b.earlyPerfect
        return c
    }

    /// The NAB-style scaled sigmoid.
    static func sigma(_ y: Double) -> Double { 2 / (1 + exp(5 * y)) - 1 }

    /// Judges `alarms` (one flag per row) against `windows` (sorted, disjoint), ignoring the first `probation` rows.
    public static func judge(alarms: [Bool], windows: [LabelledWindow], probation: Int) -> DetectionCounts {
        var c = DetectionCounts()
        c.series = 1
        let n = alarms.count
        c.rows = max(0, n - probation)
        let counted = windows.filter { $0.last >= probation && $0.first < n }
        c.events = counted.count
        // Per row: the window holding it, or the last window ending before it.
        var w = 0
        var previousEnd: LabelledWindow? = nil
        let sorted = windows.sorted { $0.first < $1.first }
        var firstAlarm = [Int?](repeating: nil, count: sorted.count)
        for r in probation..<max(probation, n) {
            while w < sorted.count && sorted[w].last < r { previousEnd = sorted[w]; w += 1 }
            guard alarms[r] else { continue }
            if w < sorted.count && sorted[w].first <= r {
                if firstAlarm[w] == nil { firstAlarm[w] = r }
            } else {
                c.falseAlarms += 1
                if let p = previousEnd {
                    c.earlyRaw += 0.11 * sigma(Double(r - p.last) / Double(p.length))   // σ < 0 after a window
                } else {
                    c.earlyRaw -= 0.11
                }
            }
        }
        for (i, win) in sorted.enumerated() where win.last >= probation && win.first < n {
            c.earlyNull -= 1
            c.earlyPerfect += sigma(Double(win.first - win.last) / Double(win.length))
            if let r = firstAlarm[i] {
                c.detected += 1
                let delay = r - win.first
                c.delays.append(delay)
                c.delaySum += delay
                c.earlyRaw += sigma(Double(r - win.last) / Double(win.length))
            } else {
                c.earlyRaw -= 1
            }
        }
        return c
    }
}

/// Point-wise average precision (area under the precision–recall curve) of scores against 0/1 labels;
/// rows without a score count as score 0 (a detector that says nothing ranks them last).
public func averagePrecision(scores: [Float], labels: [Bool]) -> Double {
    precondition(scores.count == labels.count, "\(scores.count) scores for \(labels.count) labels")
    let positives = labels.reduce(0) { $0 + ($1 ? 1 : 0) }
    guard positives > 0 else { return 0 }
    let s = scores.map { $0.isFinite ? $0 : 0 }
    let order = s.indices.sorted { s[$0] > s[$1] }
    var ap = 0.0, tp = 0, seen = 0, lastRecall = 0.0
    var i = 0
    while i < order.count {
        var j = i
        while j < order.count && s[order[j]] == s[order[i]] { tp += labels[order[j]] ? 1 : 0; seen += 1; j += 1 }
        let recall = Double(tp) / Double(positives)
        ap += (recall - lastRecall) * Double(tp) / Double(seen)
        lastRecall = recall
        i = j
    }
    return ap
}

#if canImport(Glibc)
import Glibc
#endif
