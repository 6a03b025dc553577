import Testing
import TestSupport
@testable import TensorCore

/// Naive element access for reference computations: the row-major flat index of a full index.
private func flat(_ idx: [Int], _ shape: Shape) -> Int {
    var f = 0
    for (i, v) in idx.enumerated() { f = f * shape[i] + v }
    return f
}

/// Every full index of a shape, in row-major order.
private func indices(_ shape: Shape) -> [[Int]] {
    var out: [[Int]] = [[]]
    for d in shape.dims { out = out.flatMap { prefix in (0..<d).map { prefix + [$0] } } }
    return out
}

private func random(_ shape: Shape, seed: UInt64) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor.normal(shape, using: &rng)
}

@Suite struct TensorCreationTests {
    @Test func zerosOnesFullArange() {
        #expect(Tensor.zeros([2, 3]).scalars == [Float](repeating: 0, count: 6))
        #expect(Tensor.ones([4]).scalars == [1, 1, 1, 1])
        #expect(Tensor.full([2], 2.5).scalars == [2.5, 2.5])
        #expect(Tensor.arange(0, 5).scalars == [0, 1, 2, 3, 4])
        #expect(Tensor.arange(1, 2, step: 0.25).scalars == [1, 1.25, 1.5, 1.75])
        #expect(Tensor.arange(5, 0, step: -2).scalars == [5, 3, 1])
        #expect(Tensor(scalar: 3).shape == [])
        #expect(Tensor(scalar: 3).scalarCount == 1)
    }

    @Test func seededGeneratorsAreReproducibleAndDistributed() {
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42), c = RandomGenerator(seed: 43)
        let x = Tensor.normal([10_000], mean: 2, std: 3, using: &a)
        let y = Tensor.normal([10_000], mean: 2, std: 3, using: &b)
        let z = Tensor.normal([10_000], mean: 2, std: 3, using: &c)
        #expect(x == y)
        #expect(x != z)
        expectClose(x.mean().scalar, 2, atol: 0.1)
        expectClose(x.variance().scalar.squareRoot(), 3, atol: 0.1)
        let u = Tensor.uniform([10_000], low: -1, high: 3, using: &a)
        #expect(u.min().scalar >= -1 && u.max().scalar < 3)
        expectClose(u.mean().scalar, 1, atol: 0.05)
        expectClose(u.variance().scalar, 16.0 / 12.0, atol: 0.05)
    }

    @Test func copyOnWriteKeepsCopiesIndependent() {
        var a = Tensor([1, 2, 3])
        let b = a
        a[1] = 20
        #expect(a.scalars == [1, 20, 3])
        #expect(b.scalars == [1, 2, 3])
        var r = a.reshaped([3, 1])  // shares storage until written
        r[0, 0] = -1
        #expect(a.scalars == [1, 20, 3])
        #expect(r.scalars == [-1, 20, 3])
    }
}

@Suite struct ElementwiseTests {
    /// Reference broadcast: evaluates op at every output index by mapping to operand indices.
    func referenceZip(_ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
        let out = Shape.broadcast(a.shape, b.shape)!
        let (av, bv) = (a.scalars, b.scalars)
        var result = [Float]()
        for idx in indices(out) {
            func pick(_ s: Shape) -> Int {
                let lead = out.rank - s.rank
                return flat((0..<s.rank).map { s[$0] == 1 ? 0 : idx[lead + $0] }, s)
            }
            result.append(op(av[pick(a.shape)], bv[pick(b.shape)]))
        }
        return Tensor(shape: out, scalars: result)
    }

    @Test(arguments: [
        ([2, 3], [2, 3]), ([2, 3], [3]), ([2, 3], [1]), ([1], [2, 3]), ([4, 1, 3], [2, 1]),
        ([2, 1, 5], [1, 3, 1]), ([3, 1], [1, 4]), ([2, 3, 4], [3, 1]), ([5], [2, 1, 5]), ([], [2, 2]),
    ] as [([Int], [Int])])
    func broadcastingMatchesReference(_ sa: [Int], _ sb: [Int]) {
        let a = random(Shape(sa), seed: 1), b = random(Shape(sb), seed: 2)
        expectClose(a + b, referenceZip(a, b, +), atol: 0, "add \(sa) \(sb)")
        expectClose(a - b, referenceZip(a, b, -), atol: 0, "sub")
        expectClose(a * b, referenceZip(a, b, *), atol: 0, "mul")
        expectClose(a / b, referenceZip(a, b, /), atol: 0, "div")
        expectClose(Tensor.maximum(a, b), referenceZip(a, b, max), atol: 0, "maximum")
    }

    @Test func shapeAlgebra() {
        #expect(Shape.broadcast([3, 1], [4]) == [3, 4])
        #expect(Shape.broadcast([2, 3], [4]) == nil)
        #expect(Shape([2, 3, 4]).strides == [12, 4, 1])
        #expect(Shape([2, 3, 4]).reduced(alongAxes: [1], keepDims: true) == [2, 1, 4])
        #expect(Shape([2, 3, 4]).reduced(alongAxes: [-1, 0], keepDims: false) == [3])
        #expect(Shape([2, 3, 4]).reductionCount(alongAxes: [0, 2]) == 8)
    }

    @Test func unaryFunctions() {
        let x = Tensor([-30, -2, -0.5, 0, 0.5, 2, 25])
        expectClose(x.relu(), Tensor([0, 0, 0, 0, 0.5, 2, 25]), atol: 0)
        expectClose(x.abs(), Tensor([30, 2, 0.5, 0, 0.5, 2, 25]), atol: 0)
        expectClose(x.sigmoid(), Tensor(x.scalars.map { Float(1 / (1 + _exp(-Double($0)))) }), atol: 1e-7)
        expectClose(x.softplus(), Tensor(x.scalars.map { $0 > 20 ? $0 : Float(_log1p(_exp(Double($0)))) }), atol: 1e-6)
        expectClose(x.tanh(), Tensor(x.scalars.map { Float(_tanh(Double($0))) }), atol: 1e-7)
        expectClose(x.clamped(min: -1, max: 1), Tensor([-1, -1, -0.5, 0, 0.5, 1, 1]), atol: 0)
        #expect(x.isFinite)
        #expect(!Tensor([1, .nan]).isFinite)
        #expect(!Tensor([.infinity]).isFinite)
    }
}

@Suite struct ReductionTests {
    func referenceSum(_ x: Tensor, axes: [Int]) -> Tensor {
        let out = x.shape.reduced(alongAxes: axes, keepDims: true)
        var acc = [Float](repeating: 0, count: out.elementCount)
        let v = x.scalars
        for idx in indices(x.shape) {
            let o = flat(idx.enumerated().map { axes.contains($0.offset) ? 0 : $0.element }, out)
            acc[o] += v[flat(idx, x.shape)]
        }
        return Tensor(shape: out, scalars: acc)
    }

    @Test(arguments: [[0], [1], [2], [0, 2], [0, 1, 2], [1, 2]])
    func sumMeanMaxMatchReference(_ axes: [Int]) {
        let x = random([3, 4, 5], seed: 3)
        let ref = referenceSum(x, axes: axes)
        expectClose(x.sum(alongAxes: axes, keepDims: true), ref, atol: 1e-5)
        expectClose(x.sum(alongAxes: axes), ref.reshaped(x.shape.reduced(alongAxes: axes, keepDims: false)), atol: 1e-5)
        let n = Float(x.shape.reductionCount(alongAxes: axes))
        expectClose(x.mean(alongAxes: axes, keepDims: true), ref / n, atol: 1e-6)
        // max ≥ every element and equals one of them
        let m = x.max(alongAxes: axes, keepDims: true)
        #expect((x - m).max().scalar <= 0)
        #expect(-(x.min(alongAxes: axes, keepDims: true) - x).max().scalar <= 0)
    }

    @Test func varianceBiasedAndUnbiased() {
        let x = Tensor(shape: [2, 4], scalars: [1, 2, 3, 4, 2, 2, 2, 10])
        expectClose(x.variance(alongAxes: [1]), Tensor([1.25, 12]), atol: 1e-6)
        expectClose(x.variance(alongAxes: [1], unbiased: true), Tensor([5.0 / 3.0, 16]), atol: 1e-5)
        expectClose(x.sum(), Tensor(scalar: 26), atol: 0)
        #expect(x.sum().shape == [])
    }
}

@Suite struct ShapeOpsTests {
    @Test func reshapeInfersAndShares() {
        let x = Tensor.arange(0, 24).reshaped([2, 3, 4])
        #expect(x.reshaped([-1, 4]).shape == [6, 4])
        #expect(x.reshaped([4, -1]).shape == [4, 6])
    }

    @Test(arguments: [[0, 1, 2], [2, 1, 0], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1]])
    func permuteMatchesReference(_ p: [Int]) {
        let x = random([2, 3, 4], seed: 4)
        let y = x.permuted(p)
        #expect(y.shape == Shape(p.map { x.shape[$0] }))
        for idx in indices(y.shape) {
            var src = [Int](repeating: 0, count: 3)
            for (i, a) in p.enumerated() { src[a] = idx[i] }
            #expect(y.scalars[flat(idx, y.shape)] == x.scalars[flat(src, x.shape)])
        }
    }

    @Test func sliceConcatStackPad() {
        let x = Tensor.arange(0, 24).reshaped([2, 3, 4])
        let s = x.slice(axis: 1, 1..<3)
        #expect(s.shape == [2, 2, 4])
        #expect(s.scalars == [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23])
        let c = Tensor.concat([x.slice(axis: 2, 0..<1), x.slice(axis: 2, 1..<4)], axis: 2)
        #expect(c == x)
        let c1 = Tensor.concat([x.slice(axis: 1, 0..<2), x.slice(axis: 1, 2..<3)], axis: -2)
        #expect(c1 == x)
        let st = Tensor.stack([Tensor([1, 2]), Tensor([3, 4]), Tensor([5, 6])], axis: 1)
        #expect(st.shape == [2, 3])
        #expect(st.scalars == [1, 3, 5, 2, 4, 6])
        let p = Tensor([1, 2]).reshaped([1, 2]).padded(axis: 1, before: 2, after: 1, value: -1)
        #expect(p.scalars == [-1, -1, 1, 2, -1])
        #expect(p.cropped(axis: 1, before: 2, after: 1).scalars == [1, 2])
        let u = Tensor.ones([2, 3, 4]).unbroadcast(to: [3, 1])
        #expect(u.shape == [3, 1])
        #expect(u.scalars == [8, 8, 8])
        #expect(Tensor([1, 2]).broadcast(to: [2, 2]).scalars == [1, 2, 1, 2])
    }
}

@Suite struct LinearAlgebraTests {
    func referenceMatmul(_ a: [[Float]], _ b: [[Float]]) -> [Float] {
        var out: [Float] = []
        for i in 0..<a.count { for j in 0..<b[0].count { out.append((0..<b.count).reduce(0) { $0 + a[i][$1] * b[$1][j] }) } }
        return out
    }

    func rows(_ t: Tensor) -> [[Float]] { (0..<t.shape[0]).map { Array(t.scalars[($0 * t.shape[1])..<(($0 + 1) * t.shape[1])]) } }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmulWithTransposes(_ ta: Bool, _ tb: Bool) {
        let a = random(ta ? [4, 3] : [3, 4], seed: 5), b = random(tb ? [5, 4] : [4, 5], seed: 6)
        let y = Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
        let ra = rows(ta ? a.transposed() : a), rb = rows(tb ? b.transposed() : b)
        expectClose(y, Tensor(shape: [3, 5], scalars: referenceMatmul(ra, rb)), atol: 1e-5)
    }

    @Test func batchedMatmulMatchesPerBatch() {
        let a = random([2, 3, 3, 4], seed: 7), b = random([2, 3, 4, 2], seed: 8)
        let y = Tensor.batchedMatmul(a, b)
        #expect(y.shape == [2, 3, 3, 2])
        let a2 = a.reshaped([6, 3, 4]), b2 = b.reshaped([6, 4, 2]), y2 = y.reshaped([6, 3, 2])
        for i in 0..<6 {
            let yi = y2.slice(axis: 0, i..<(i + 1)).reshaped([3, 2])
            expectClose(yi, Tensor.matmul(a2.slice(axis: 0, i..<(i + 1)).reshaped([3, 4]),
                                          b2.slice(axis: 0, i..<(i + 1)).reshaped([4, 2])), atol: 1e-6)
        }
        let yt = Tensor.batchedMatmul(a, b.transposed(), transposeB: true)
        expectClose(yt, y, atol: 1e-6)
    }

    @Test func emptyInnerDimensionGivesZeros() {
        let y = Tensor.matmul(Tensor.zeros([2, 0]), Tensor.zeros([0, 3]))
        #expect(y == Tensor.zeros([2, 3]))
    }
}

@Suite struct Im2ColTests {
    @Test(arguments: [(3, 1, 1, 1), (3, 2, 1, 2), (2, 1, 0, 1), (4, 3, 2, 1), (1, 1, 0, 1)])
    func im2colMatchesDefinitionAndCol2imIsItsAdjoint(_ k: Int, _ s: Int, _ p: Int, _ d: Int) {
        let x = random([2, 3, 9], seed: 9)
        let g = Conv1DGeometry(inputLength: 9, kernelSize: k, stride: s, padding: p, dilation: d)
        let cols = x.im2col1d(g)
        #expect(cols.shape == [3 * k, 2 * g.outputLength])
        for b in 0..<2 { for t in 0..<g.outputLength { for c in 0..<3 { for j in 0..<k {
            let pos = t * s + j * d - p
            let expected: Float = pos >= 0 && pos < 9 ? x[b, c, pos] : 0
            #expect(cols[c * k + j, b * g.outputLength + t] == expected)
        } } } }
        // ⟨im2col(x), C⟩ = ⟨x, col2im(C)⟩
        let c = random(cols.shape, seed: 10)
        let lhs = (cols * c).sumOfElements
        let rhs = (x * c.col2im1d(g, batch: 2, channels: 3)).sumOfElements
        expectClose(lhs, rhs, atol: 1e-4)
    }

    @Test func outputLengthFollowsPyTorch() {
        #expect(Conv1DGeometry(inputLength: 10, kernelSize: 3, stride: 1, padding: 1).outputLength == 10)
        #expect(Conv1DGeometry(inputLength: 11, kernelSize: 3, stride: 2, padding: 1, dilation: 2).outputLength == 5)
        #expect(Conv1DGeometry(inputLength: 2, kernelSize: 5).outputLength == 0)
    }
}

#if canImport(Glibc)
import Glibc
private func _exp(_ x: Double) -> Double { Glibc.exp(x) }
private func _log1p(_ x: Double) -> Double { Glibc.log1p(x) }
private func _tanh(_ x: Double) -> Double { Glibc.tanh(x) }
#endif
