// Engine micro-benchmarks, printed as JSON lines for bench/run.py (which measures PyTorch the same way).
//
//   swift build -c release --product EngineBench && .build/release/EngineBench [--threads N] [--quick]
//
// 1. Linear forward+backward at batch 256 versus a bare sgemm of the same size (GFLOP/s): OpenBLAS, and
//    BLAS.sgemm as routed on this machine (the AVX-512 kernel where it applies).
// 2. Per-op overhead on tiny tensors: raw Tensor ops, Variable ops under no-grad, and recorded ops.
// 3. A 2-layer MLP training step (forward, MSE, backward, Adam) at two sizes.
import Autograd
import NN
import Optim
import TensorCore

#if canImport(Glibc)
import Glibc
#endif

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Median seconds per call over `repeats` timed batches of `iterations` calls (after one warm-up batch).
func measure(iterations: Int, repeats: Int = 7, _ body: () -> Void) -> Double {
    for _ in 0..<max(1, iterations / 4) { body() }
    var samples: [Double] = []
    for _ in 0..<repeats {
        let t0 = now()
        for _ in 0..<iterations { body() }
        samples.append((now() - t0) / Double(iterations))
    }
    return samples.sorted()[repeats / 2]
}

func emit(_ fields: [(String, String)]) {
    print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
}

@inline(never) func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

var threads = 1
var quick = false
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--threads": threads = Int(args.next() ?? "1") ?? 1
    case "--quick": quick = true
    default: fatalError("unknown argument \(a); usage: EngineBench [--threads N] [--quick]")
    }
}
BLAS.setThreads(threads)
let scale = quick ? 0.1 : 1.0
func iters(_ n: Int) -> Int { max(1, Int(Double(n) * scale)) }
var rng = RandomGenerator(seed: 1)

// 1. Linear forward + backward vs bare sgemm.
for (inF, outF) in [(1024, 1024), (512, 512), (256, 256)] {
    let batch = 256
    let x = Tensor.uniform([batch, inF], low: -1, high: 1, using: &rng)
    let w = Tensor.uniform([outF, inF], low: -1, high: 1, using: &rng)
    var c = Tensor.zeros([batch, outF])
    let flops = 2.0 * Double(batch * inF * outF)
    let n = iters(inF >= 1024 ? 20 : 100)
    // The same product through OpenBLAS (isa below AVX-512 forces it) and through BLAS.sgemm as the layers
    // call it, with op(B) in place (where the AVX-512 kernel takes products that fit its panel limit).
    let gemm = measure(iterations: n) {
        c.withUnsafeMutableBufferPointer { out in
            BLAS.sgemm(transposeA: false, transposeB: true, m: batch, n: outF, k: inF,
                       a: x.basePointer, lda: inF, b: w.basePointer, ldb: inF, c: out.baseAddress!, ldc: outF, isa: .baseline)
        }
    }
    let wt = w.transposed()
    let routed = measure(iterations: n) {
        c.withUnsafeMutableBufferPointer { out in
            BLAS.sgemm(transposeA: false, transposeB: false, m: batch, n: outF, k: inF,
                       a: x.basePointer, lda: inF, b: wt.basePointer, ldb: outF, c: out.baseAddress!, ldc: outF)
        }
    }
    let layer = Linear(inF, outF, using: &rng)
    let xv = Variable(x, requiresGrad: true)
    let seed = Tensor.ones([batch, outF])
    let fwdBwd = measure(iterations: n) {
        layer.zeroGrad()
        xv.grad = nil
        layer(xv).backward(seed: seed)
    }
    emit([("bench", "\"linear_fwd_bwd\""), ("batch", "\(batch)"), ("in", "\(inF)"), ("out", "\(outF)"), ("threads", "\(threads)"),
          ("sgemm_gflops", "\(flops / gemm / 1e9)"), ("routed_sgemm_gflops", "\(flops / routed / 1e9)"),
          ("kernel_isa", "\"\(KernelISA.active)\""), ("fwd_bwd_gflops", "\(3 * flops / fwdBwd / 1e9)"),
          ("fwd_bwd_ms", "\(fwdBwd * 1e3)")])
}

// 2. Per-op overhead on 4-element tensors.
let a4 = Tensor([1, 2, 3, 4]), b4 = Tensor([0.5, 0.25, 2, 1])
let n = iters(200_000)
let rawAdd = measure(iterations: n) { blackHole(a4 + b4) }
let rawTanh = measure(iterations: n) { blackHole(a4.tanh()) }
let va = Variable(a4), vb = Variable(b4)
let constAdd = measure(iterations: n) { blackHole(va + vb) }
let pa = Variable(a4, requiresGrad: true), pb = Variable(b4, requiresGrad: true)
let noGradAdd = measure(iterations: n) { withNoGrad { blackHole(pa + pb) } }
let recordedAdd = measure(iterations: n) { blackHole(pa + pb) }
let recordedChain = measure(iterations: iters(50_000)) {
    let y = ((pa * pb).tanh() + pa).sum()
    y.backward()
}
pa.grad = nil; pb.grad = nil
emit([("bench", "\"op_overhead\""), ("tensor_add_us", "\(rawAdd * 1e6)"), ("tensor_tanh_us", "\(rawTanh * 1e6)"),
      ("variable_add_untracked_us", "\(constAdd * 1e6)"), ("variable_add_nograd_us", "\(noGradAdd * 1e6)"),
      ("variable_add_recorded_us", "\(recordedAdd * 1e6)"),
      ("fwd_bwd_4ops_us", "\(recordedChain * 1e6)")])

// 3. Two-layer MLP training step.
for (batch, inF, hidden) in [(64, 36, 16), (256, 256, 512)] {
    let fc1 = Linear(inF, hidden, using: &rng), fc2 = Linear(hidden, inF, using: &rng)
    let params = fc1.trainableParameters + fc2.trainableParameters
    let opt = Adam(params, learningRate: 1e-3)
    let x = Variable(Tensor.uniform([batch, inF], low: -1, high: 1, using: &rng))
    let step = measure(iterations: iters(batch == 64 ? 20_000 : 500)) {
        opt.zeroGrad()
        let y = fc2(fc1(x).tanh())
        Loss.mse(y, x).backward()
        opt.step()
    }
    emit([("bench", "\"mlp_step\""), ("batch", "\(batch)"), ("in", "\(inF)"), ("hidden", "\(hidden)"),
          ("threads", "\(threads)"), ("step_us", "\(step * 1e6)")])
}
