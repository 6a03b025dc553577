import Autograd
import Testing
import TestSupport
import TensorCore

private func random(_ shape: Shape, seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor.uniform(shape, low: low, high: high, using: &rng)
}

/// Values kept away from a kink at zero so central differences are meaningful.
private func awayFromZero(_ shape: Shape, seed: UInt64) -> Tensor {
    random(shape, seed: seed).map { $0 >= 0 ? $0 + 0.2 : $0 - 0.2 }
}

@Suite struct ArithmeticGradientTests {
    static let pairs: [([Int], [Int])] = [
        ([3, 4], [3, 4]), ([3, 4], [4]), ([3, 4], [1]), ([2, 3, 4], [3, 1]), ([2, 1, 4], [1, 3, 1]), ([4], [2, 3, 4]), ([], [2, 3]),
    ]

    @Test(arguments: pairs)
    func addSubMulDivBroadcasting(_ sa: [Int], _ sb: [Int]) {
        let a = random(Shape(sa), seed: 1), b = random(Shape(sb), seed: 2, low: 0.5, high: 2)
        gradCheck([a, b], "add \(sa) \(sb)") { $0[0] + $0[1] }
        gradCheck([a, b], "sub") { $0[0] - $0[1] }
        gradCheck([a, b], "mul") { $0[0] * $0[1] }
        gradCheck([a, b], "div") { $0[0] / $0[1] }
    }

    @Test func scalarOpsAndNegation() {
        let a = random([3, 2], seed: 3)
        gradCheck([a], "neg") { -$0[0] }
        gradCheck([a], "add scalar") { $0[0] + 2 }
        gradCheck([a], "rsub scalar") { 2 - $0[0] }
        gradCheck([a], "mul scalar") { $0[0] * 3 }
        gradCheck([a], "div scalar") { $0[0] / 4 }
        gradCheck([a], "constant tensor") { $0[0] * Tensor([2, -1]) + Tensor([1, 1]) - Tensor([0.5]) }
    }
}

@Suite struct UnaryGradientTests {
    @Test func smoothFunctions() {
        let x = random([2, 3, 4], seed: 4, low: -2, high: 2)
        let pos = random([2, 3, 4], seed: 5, low: 0.3, high: 3)
        gradCheck([x], "exp") { $0[0].exp() }
        gradCheck([pos], "log") { $0[0].log() }
        gradCheck([pos], "sqrt") { $0[0].sqrt() }
        gradCheck([x], "squared") { $0[0].squared() }
        gradCheck([pos], "pow 1.7") { $0[0].pow(1.7) }
        gradCheck([x], "pow 3") { $0[0].pow(3) }
        gradCheck([x], "tanh") { $0[0].tanh() }
        gradCheck([x], "sigmoid") { $0[0].sigmoid() }
        gradCheck([x], "softplus") { $0[0].softplus() }
        gradCheck([x * 15], atol: 5e-3, "softplus across threshold") { $0[0].softplus() }
    }

    @Test func piecewiseFunctionsAwayFromKinks() {
        let x = awayFromZero([3, 5], seed: 6)
        gradCheck([x], "relu") { $0[0].relu() }
        gradCheck([x], "abs") { $0[0].abs() }
        gradCheck([x * 2], "clamp") { $0[0].clamped(min: -0.9, max: 0.7) }
        // huber: |x| < 1 quadratic, else linear; avoid |x| = 1
        let h = random([4, 5], seed: 7, low: -3, high: 3).map { abs(abs($0) - 1) < 0.1 ? $0 + 0.3 : $0 }
        gradCheck([h], "huber") { $0[0].huber() }
        gradCheck([h], "huber delta 2") { $0[0].huber(delta: 2) }
    }

    @Test func kinkConventionsMatchPyTorch() {
        let x = Variable(Tensor([0, 0, 0]), requiresGrad: true)
        (x.relu().sum() + x.abs().sum()).backward()
        #expect(x.grad == Tensor([0, 0, 0]))
    }
}

@Suite struct ReductionGradientTests {
    @Test(arguments: [[0], [1], [2], [0, 2], [-1], [0, 1, 2]])
    func sumAndMean(_ axes: [Int]) {
        let x = random([2, 3, 4], seed: 8)
        gradCheck([x], "sum \(axes)") { $0[0].sum(alongAxes: axes) }
        gradCheck([x], "sum keepDims \(axes)") { $0[0].sum(alongAxes: axes, keepDims: true) }
        gradCheck([x], "mean \(axes)") { $0[0].mean(alongAxes: axes) }
        gradCheck([x], "variance \(axes)") { $0[0].variance(alongAxes: axes, unbiased: true) }
    }

    @Test func fullReductions() {
        let x = random([3, 4], seed: 9)
        gradCheck([x], "sum all") { $0[0].sum() }
        gradCheck([x], "mean all") { $0[0].mean() }
    }
}

@Suite struct ShapeGradientTests {
    @Test func reshapePermuteTranspose() {
        let x = random([2, 3, 4], seed: 10)
        gradCheck([x], "reshape") { $0[0].reshaped([4, -1]) }
        gradCheck([x], "permute 201") { $0[0].permuted([2, 0, 1]) }
        gradCheck([x], "permute 021") { $0[0].permuted([0, 2, 1]) }
        gradCheck([x], "transpose 0 2") { $0[0].transposed(0, 2) }
        gradCheck([x], "flatten") { $0[0].flattened() }
    }

    @Test func sliceConcatStackPad() {
        let x = random([2, 5, 3], seed: 11), y = random([2, 2, 3], seed: 12)
        gradCheck([x], "slice") { $0[0].slice(axis: 1, 1..<4) }
        gradCheck([x], "slice last") { $0[0].slice(axis: -1, 2..<3) }
        gradCheck([x, y], "concat") { Variable.concat([$0[0], $0[1], $0[0]], axis: 1) }
        gradCheck([x, x], "stack") { Variable.stack([$0[0], $0[1]], axis: 2) }
        gradCheck([x], "pad") { $0[0].padded(axis: 2, before: 2, after: 1, value: 3) }
    }
}

@Suite struct LinearAlgebraGradientTests {
    @Test func matmul() {
        gradCheck([random([3, 4], seed: 13), random([4, 2], seed: 14)], "matmul") { Variable.matmul($0[0], $0[1]) }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func batchedMatmul(_ ta: Bool, _ tb: Bool) {
        let a = random(ta ? [2, 4, 3] : [2, 3, 4], seed: 15), b = random(tb ? [2, 5, 4] : [2, 4, 5], seed: 16)
        gradCheck([a, b], "bmm \(ta) \(tb)") { Variable.batchedMatmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
    }

    @Test func fusedLinear() {
        let w = random([3, 4], seed: 17), b = random([3], seed: 18)
        gradCheck([random([5, 4], seed: 19), w, b], "linear 2-D") { Variable.linear($0[0], weight: $0[1], bias: $0[2]) }
        gradCheck([random([2, 3, 4], seed: 20), w, b], "linear 3-D") { Variable.linear($0[0], weight: $0[1], bias: $0[2]) }
        gradCheck([random([5, 4], seed: 21), w], "linear no bias") { Variable.linear($0[0], weight: $0[1], bias: nil) }
    }
}

@Suite struct ConvolutionGradientTests {
    @Test(arguments: [(3, 1, 1, 1), (3, 2, 1, 2), (2, 1, 0, 1), (3, 3, 2, 1)])
    func conv1d(_ k: Int, _ s: Int, _ p: Int, _ d: Int) {
        let x = random([2, 3, 9], seed: 22), w = random([4, 3, k], seed: 23), b = random([4], seed: 24)
        gradCheck([x, w, b], "conv1d k\(k) s\(s) p\(p) d\(d)") {
            Variable.conv1d($0[0], weight: $0[1], bias: $0[2], stride: s, padding: p, dilation: d)
        }
    }

    @Test(arguments: [(3, 1, 1, 0, 1), (3, 2, 1, 1, 1), (3, 2, 0, 1, 2), (2, 3, 0, 0, 1)])
    func convTranspose1d(_ k: Int, _ s: Int, _ p: Int, _ op: Int, _ d: Int) {
        let x = random([2, 4, 5], seed: 25), w = random([4, 3, k], seed: 26), b = random([3], seed: 27)
        gradCheck([x, w, b], "convT k\(k) s\(s) p\(p) op\(op) d\(d)") {
            Variable.convTranspose1d($0[0], weight: $0[1], bias: $0[2], stride: s, padding: p, outputPadding: op, dilation: d)
        }
    }

    @Test func convWithoutBias() {
        gradCheck([random([1, 2, 6], seed: 28), random([3, 2, 3], seed: 29)], "conv1d no bias") {
            Variable.conv1d($0[0], weight: $0[1], bias: nil, padding: 1)
        }
        gradCheck([random([1, 2, 6], seed: 30), random([2, 3, 3], seed: 31)], "convT no bias") {
            Variable.convTranspose1d($0[0], weight: $0[1], bias: nil, stride: 2)
        }
    }
}

@Suite struct PoolingAndSoftmaxGradientTests {
    @Test func maxPool() {
        // distinct values so the argmax is stable under ±eps perturbation
        var rng = RandomGenerator(seed: 32)
        var values = (0..<60).map { Float($0) * 0.1 }
        values.shuffle(using: &rng)
        let x = Tensor(shape: [2, 3, 10], scalars: values)
        gradCheck([x], eps: 1e-3, "maxpool k2") { $0[0].maxPool1d(kernelSize: 2) }
        gradCheck([x], eps: 1e-3, "maxpool k3 s2 p1") { $0[0].maxPool1d(kernelSize: 3, stride: 2, padding: 1) }
    }

    /// Ties and NaN in the pair fast path (k 2, s 2) behave as the general path and PyTorch: the first of
    /// equal values wins, NaN propagates, the gradient goes to the chosen element. Odd lengths drop the tail.
    @Test func maxPoolPairsTiesAndNaN() {
        let x = Variable(Tensor(shape: [1, 1, 11], scalars: [1, 1, 3, 2, .nan, 5, 4, .nan, .nan, .nan, 9]), requiresGrad: true)
        let fast = x.maxPool1d(kernelSize: 2)
        let general = x.maxPool1d(kernelSize: 2, stride: 2, padding: 1).value.scalars   // [pad,1] [1,3] [2,nan] [5,4] [nan,nan] [nan,9]
        #expect(fast.shape == [1, 1, 5])
        let v = fast.value.scalars
        #expect(v[0] == 1 && v[1] == 3 && v[2].isNaN && v[3].isNaN && v[4].isNaN)
        #expect(general[0] == 1 && general[1] == 3 && general[2].isNaN && general[3] == 5 && general[4].isNaN && general[5].isNaN)
        fast.sum().backward()
        #expect(x.grad?.scalars == [1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0], "a NaN after a NaN is taken, as in the general path")
    }

    @Test(arguments: [2, 3] as [Float])
    func upsample(_ scale: Float) {
        gradCheck([random([2, 3, 5], seed: 33)], "upsample x\(scale)") { $0[0].upsampleLinear1d(scaleFactor: scale) }
    }

    @Test(arguments: [0, 1, -1])
    func softmaxAndLogSoftmax(_ axis: Int) {
        let x = random([2, 3, 4], seed: 34, low: -3, high: 3)
        gradCheck([x], "softmax \(axis)") { $0[0].softmax(axis: axis) }
        gradCheck([x], "logSoftmax \(axis)") { $0[0].logSoftmax(axis: axis) }
    }

    @Test func softmaxIsStableForLargeInputs() {
        let y = Tensor([1000, 1001, 999]).softmax(axis: 0)
        #expect(y.isFinite)
        expectClose(y.sumOfElements, 1, atol: 1e-6)
        #expect(Tensor([1000, 1001, 999]).logSoftmax(axis: 0).isFinite)
    }
}

@Suite struct FusedOpGradientTests {
    @Test(arguments: [true, false])
    func lstmLayer(_ withBias: Bool) {
        let x = random([2, 4, 3], seed: 40), wih = random([8, 3], seed: 41), whh = random([8, 2], seed: 42)
        let bih = random([8], seed: 43), bhh = random([8], seed: 44)
        gradCheck(withBias ? [x, wih, whh, bih, bhh] : [x, wih, whh], "lstmLayer bias \(withBias)") { v in
            Variable.lstmLayer(v[0], weightIH: v[1], weightHH: v[2], biasIH: withBias ? v[3] : nil, biasHH: withBias ? v[4] : nil)
        }
    }

    @Test func lstmLayerRepeatedInput() {
        let x = random([2, 3], seed: 60), wih = random([8, 3], seed: 61), whh = random([8, 2], seed: 62)
        let bih = random([8], seed: 63), bhh = random([8], seed: 64)
        gradCheck([x, wih, whh, bih, bhh], "lstmLayer repeated") { v in
            Variable.lstmLayer(v[0], repeatedFor: 4, weightIH: v[1], weightHH: v[2], biasIH: v[3], biasHH: v[4])
        }
    }

    /// A repeated input gives what the same input materialised along the time axis gives: output and every
    /// gradient, to float rounding.
    @Test func lstmLayerRepeatedInputEqualsTheMaterialisedRepetition() {
        let (batch, steps) = (5, 7)
        let x = random([batch, 6], seed: 65), wih = random([20, 6], seed: 66), whh = random([20, 5], seed: 67)
        let bih = random([20], seed: 68), bhh = random([20], seed: 69), upstream = random([batch, steps, 10], seed: 70)
        func run(repeated: Bool) -> [Tensor] {
            let v = [x, wih, whh, bih, bhh].map { Variable($0, requiresGrad: true) }
            let input = repeated ? v[0] : v[0].reshaped([batch, 1, 6]).broadcast(to: [batch, steps, 6])
            let y = Variable.lstmLayer(input, repeatedFor: repeated ? steps : nil, weightIH: v[1], weightHH: v[2],
                                       biasIH: v[3], biasHH: v[4])
            (y * Variable(upstream)).sum().backward()
            return [y.value] + v.map { $0.grad! }
        }
        let (a, b) = (run(repeated: true), run(repeated: false))
        for (k, (p, q)) in zip(a, b).enumerated() { expectClose(p, q, atol: 1e-5, "output/gradient \(k)") }
    }

    @Test(arguments: [[5, 3], [3, 2, 4]])
    func batchNormTrainingAndEvaluation(_ shape: [Int]) {
        let x = random(Shape(shape), seed: 45, low: -2, high: 2), w = random([shape[1]], seed: 46, low: 0.5, high: 1.5)
        let b = random([shape[1]], seed: 47)
        gradCheck([x, w, b], "batchNorm train \(shape)") { Variable.batchNorm($0[0], weight: $0[1], bias: $0[2]).output }
        let rm = random([shape[1]], seed: 48), rv = random([shape[1]], seed: 49, low: 0.5, high: 2)
        gradCheck([x, w, b], "batchNorm eval \(shape)") {
            Variable.batchNorm($0[0], weight: $0[1], bias: $0[2], runningMean: rm, runningVariance: rv).output
        }
    }
}

@Suite struct BroadcastOpGradientTests {
    @Test(arguments: [([3, 1, 2], [3, 4, 2]), ([2], [3, 2]), ([1, 1], [2, 3])] as [([Int], [Int])])
    func broadcastTo(_ from: [Int], _ to: [Int]) {
        gradCheck([random(Shape(from), seed: 50)], "broadcast \(from) → \(to)") { $0[0].broadcast(to: Shape(to)) }
    }
}
