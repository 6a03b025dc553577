import TensorCore

/// An RGB raster with the few primitives a chart needs: rectangles, lines, dots and 5×7 text.
public struct Canvas {
    public let width: Int
    public let height: Int
    public private(set) var pixels: [UInt8]

    public typealias Color = (UInt8, UInt8, UInt8)

    public init(width: Int, height: Int, background: Color = (255, 255, 255)) {
        (self.width, self.height) = (width, height)
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { (pixels[i * 3], pixels[i * 3 + 1], pixels[i * 3 + 2]) = background }
    }

    public mutating func set(_ x: Int, _ y: Int, _ c: Color) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        (pixels[i], pixels[i + 1], pixels[i + 2]) = c
    }

    public func get(_ x: Int, _ y: Int) -> Color {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    public mutating func fill(x: Int, y: Int, w: Int, h: Int, _ c: Color) {
        for yy in max(0, y)..<min(height, y + h) { for xx in max(0, x)..<min(width, x + w) { set(xx, yy, c) } }
    }

    /// Bresenham's line.
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: Color) {
        var (x, y) = (x0, y0)
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            set(x, y, c)
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    public mutating func dot(_ x: Int, _ y: Int, radius: Int, _ c: Color) {
        for dy in -radius...radius { for dx in -radius...radius where dx * dx + dy * dy <= radius * radius { set(x + dx, y + dy, c) } }
    }

    /// Text in a 5×7 font (upper case; unknown characters are blank), `scale` pixels per font pixel.
    public mutating func text(_ s: String, x: Int, y: Int, scale: Int = 1, _ c: Color = (40, 40, 40)) {
        var cx = x
        for ch in s.uppercased() {
            if let rows = Canvas.font[ch] {
                for (r, bits) in rows.enumerated() {
                    for col in 0..<5 where bits & (1 << (4 - col)) != 0 {
                        fill(x: cx + col * scale, y: y + r * scale, w: scale, h: scale, c)
                    }
                }
            }
            cx += 6 * scale
        }
    }

    public static func textWidth(_ s: String, scale: Int = 1) -> Int { s.count * 6 * scale }

    public func png() -> [UInt8] { PNG.encode(width: width, height: height, rgb: pixels) }

    /// 5×7 glyphs, one 5-bit row each (bit 4 = leftmost column).
    static let font: [Character: [UInt8]] = [
        "0": [14, 17, 19, 21, 25, 17, 14], "1": [4, 12, 4, 4, 4, 4, 14], "2": [14, 17, 1, 2, 4, 8, 31],
        "3": [31, 2, 4, 2, 1, 17, 14], "4": [2, 6, 10, 18, 31, 2, 2], "5": [31, 16, 30, 1, 1, 17, 14],
        "6": [6, 8, 16, 30, 17, 17, 14], "7": [31, 1, 2, 4, 8, 8, 8], "8": [14, 17, 17, 14, 17, 17, 14],
        "9": [14, 17, 17, 15, 1, 2, 12],
        "A": [14, 17, 17, 31, 17, 17, 17], "B": [30, 17, 17, 30, 17, 17, 30], "C": [14, 17, 16, 16, 16, 17, 14],
        "D": [28, 18, 17, 17, 17, 18, 28], "E": [31, 16, 16, 30, 16, 16, 31], "F": [31, 16, 16, 30, 16, 16, 16],
        "G": [14, 17, 16, 23, 17, 17, 15], "H": [17, 17, 17, 31, 17, 17, 17], "I": [14, 4, 4, 4, 4, 4, 14],
        "J": [7, 2, 2, 2, 2, 18, 12], "K": [17, 18, 20, 24, 20, 18, 17], "L": [16, 16, 16, 16, 16, 16, 31],
        "M": [17, 27, 21, 21, 17, 17, 17], "N": [17, 17, 25, 21, 19, 17, 17], "O": [14, 17, 17, 17, 17, 17, 14],
        "P": [30, 17, 17, 30, 16, 16, 16], "Q": [14, 17, 17, 17, 21, 18, 13], "R": [30, 17, 17, 30, 20, 18, 17],
        "S": [15, 16, 16, 14, 1, 1, 30], "T": [31, 4, 4, 4, 4, 4, 4], "U": [17, 17, 17, 17, 17, 17, 14],
        "V": [17, 17, 17, 17, 17, 10, 4], "W": [17, 17, 17, 21, 21, 21, 10], "X": [17, 17, 10, 4, 10, 17, 17],
        "Y": [17, 17, 17, 10, 4, 4, 4], "Z": [31, 1, 2, 4, 8, 16, 31],
        " ": [0, 0, 0, 0, 0, 0, 0], ".": [0, 0, 0, 0, 0, 12, 12], ",": [0, 0, 0, 0, 12, 4, 8], ":": [0, 12, 12, 0, 12, 12, 0],
        "-": [0, 0, 0, 31, 0, 0, 0], "+": [0, 4, 4, 31, 4, 4, 0], "/": [1, 1, 2, 4, 8, 16, 16], "=": [0, 0, 31, 0, 31, 0, 0],
        "(": [2, 4, 8, 8, 8, 4, 2], ")": [8, 4, 2, 2, 2, 4, 8], "%": [24, 25, 2, 4, 8, 19, 3], "_": [0, 0, 0, 0, 0, 0, 31],
        "#": [10, 10, 31, 10, 31, 10, 10], "<": [2, 4, 8, 16, 8, 4, 2], ">": [8, 4, 2, 1, 2, 4, 8],
    ]
}

/// A two-panel chart of one series: the metric values on top, the anomaly scores (0–10) below, with the
/// points known to be anomalous marked in red on both.
public struct SeriesChart {
    public var title: String
    public var values: [Float]
    /// One per value; NaN where there is no score (warming up, no model).
    public var scores: [Float]
    /// Indices of points known to be anomalous (injected).
    public var marked: Set<Int>
    /// What the model expected at each point (NaN where unknown), drawn under the values.
    public var expected: [Float]? = nil
    /// Indices of alarms (`is_anomaly`), drawn as marks under the score panel.
    public var alarms: Set<Int> = []
    /// Labelled anomaly windows (row ranges), shaded on both panels.
    public var windows: [ClosedRange<Int>] = []
    /// The alert threshold, drawn across the score panel.
    public var threshold: Float? = nil
    public var markedLabel = "INJECTED ANOMALY"
    public var width = 1200
    public var height = 520

    public init(title: String, values: [Float], scores: [Float], marked: Set<Int>) {
        (self.title, self.values, self.scores, self.marked) = (title, values, scores, marked)
    }

    static let ink: Canvas.Color = (40, 40, 40), grid: Canvas.Color = (225, 225, 225), series: Canvas.Color = (31, 119, 180)
    static let score: Canvas.Color = (255, 127, 14), anomaly: Canvas.Color = (214, 39, 40)
    static let expectedColor: Canvas.Color = (120, 200, 120), window: Canvas.Color = (255, 236, 236), alarm: Canvas.Color = (148, 0, 211)

    public func render() -> Canvas {
        var c = Canvas(width: width, height: height)
        let left = 70, right = width - 20
        c.text(title, x: left, y: 10, scale: 2, Self.ink)
        let top = (y: 40, h: (height - 100) * 3 / 5), bottom = (y: 40 + (height - 100) * 3 / 5 + 30, h: (height - 100) * 2 / 5)
        let finite = (values + (expected ?? [])).filter(\.isFinite)
        let lo = finite.min() ?? 0, hi = max(finite.max() ?? 1, lo + 1e-6)
        let n = max(values.count, 2)
        for w in windows {
            let x0 = left + (right - left) * w.lowerBound / (n - 1), x1 = left + (right - left) * w.upperBound / (n - 1)
            c.fill(x: x0, y: top.y, w: max(1, x1 - x0), h: top.h, Self.window)
            c.fill(x: x0, y: bottom.y, w: max(1, x1 - x0), h: bottom.h, Self.window)
        }
        panel(&c, y: top.y, h: top.h, left: left, right: right, lo: lo, hi: hi, data: values, color: Self.series, label: "VALUE",
              under: expected)
        panel(&c, y: bottom.y, h: bottom.h, left: left, right: right, lo: 0, hi: 10, data: scores, color: Self.score, label: "SCORE")
        if let threshold {
            let ty = bottom.y + bottom.h - Int(Float(bottom.h) * min(max(threshold, 0), 10) / 10)
            var x = left
            while x < right { c.line(x, ty, min(x + 6, right), ty, Self.anomaly); x += 12 }
        }
        for i in alarms where i < values.count { c.fill(x: left + (right - left) * i / (n - 1), y: bottom.y + bottom.h + 3, w: 2, h: 6, Self.alarm) }
        // Legend.
        let ly = height - 16
        var lx = left
        func key(_ color: Canvas.Color, _ text: String, dot: Bool = false) {
            if dot { c.dot(lx + 6, ly + 3, radius: 3, color) } else { c.fill(x: lx, y: ly + 2, w: 14, h: 3, color) }
            c.text(text, x: lx + 20, y: ly, Self.ink)
            lx += 30 + Canvas.textWidth(text)
        }
        key(Self.series, "VALUE")
        if expected != nil { key(Self.expectedColor, "EXPECTED") }
        key(Self.score, "ANOMALY SCORE (0-10)")
        if threshold != nil { key(Self.anomaly, "ALERT THRESHOLD") }
        if !alarms.isEmpty { key(Self.alarm, "ALARM") }
        if !windows.isEmpty { key(Self.window, "LABELLED WINDOW") }
        if !marked.isEmpty { key(Self.anomaly, markedLabel, dot: true) }
        return c
    }

    private func panel(_ c: inout Canvas, y: Int, h: Int, left: Int, right: Int, lo: Float, hi: Float, data: [Float],
                       color: Canvas.Color, label: String, under: [Float]? = nil) {
        let n = max(data.count, 2)
        func px(_ i: Int) -> Int { left + (right - left) * i / (n - 1) }
        func py(_ v: Float) -> Int { y + h - Int(Float(h) * (min(max(v, lo), hi) - lo) / (hi - lo)) }
        for k in 0...4 {
            let gy = y + h * k / 4
            c.line(left, gy, right, gy, Self.grid)
            let v = hi - (hi - lo) * Float(k) / 4
            let text = abs(v) >= 100 ? String(Int(v.rounded())) : String(Float(Int((v * 10).rounded())) / 10)
            c.text(text, x: left - 8 - Canvas.textWidth(text), y: gy - 3, Self.ink)
        }
        c.line(left, y, left, y + h, Self.ink)
        c.line(left, y + h, right, y + h, Self.ink)
        c.text(label, x: left + 4, y: y + 4, Self.ink)
        if let under {
            var previous: (Int, Int)?
            for (i, v) in under.enumerated() {
                guard v.isFinite else { previous = nil; continue }
                let p = (px(i), py(v))
                if let q = previous { c.line(q.0, q.1, p.0, p.1, Self.expectedColor); c.line(q.0, q.1 + 1, p.0, p.1 + 1, Self.expectedColor) }
                previous = p
            }
        }
        var previous: (Int, Int)?
        for (i, v) in data.enumerated() {
            guard v.isFinite else { previous = nil; continue }
            let p = (px(i), py(v))
            if let q = previous { c.line(q.0, q.1, p.0, p.1, color) } else { c.set(p.0, p.1, color) }
            previous = p
        }
        for i in marked.sorted() where i < data.count && data[i].isFinite { c.dot(px(i), py(data[i]), radius: 3, Self.anomaly) }
    }
}

extension Canvas {
    /// Canvases of one width stacked top to bottom.
    public static func stack(_ parts: [Canvas]) -> Canvas {
        precondition(!parts.isEmpty && parts.allSatisfy { $0.width == parts[0].width }, "stacked canvases need one width")
        var out = Canvas(width: parts[0].width, height: parts.reduce(0) { $0 + $1.height })
        var offset = 0
        for p in parts {
            out.pixels.replaceSubrange((offset * p.width * 3)..<((offset + p.height) * p.width * 3), with: p.pixels)
            offset += p.height
        }
        return out
    }
}
