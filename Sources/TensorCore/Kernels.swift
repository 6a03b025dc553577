import CKernels
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Instruction-set level of TensorCore's vector kernels (Sources/CKernels): the same formulas compiled for
/// baseline x86-64, AVX2+FMA and AVX-512, of which the widest the machine supports runs. Results of the
/// levels differ only by rounding.
public enum KernelISA: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case baseline = 0, avx2 = 1, avx512 = 2

    public static func < (a: KernelISA, b: KernelISA) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .baseline: "baseline"
        case .avx2: "avx2"
        case .avx512: "avx512"
        }
    }

    /// The widest level this CPU and OS support (`.baseline` on non-x86 machines).
    public static var supported: KernelISA { KernelISA(rawValue: Int(aef_isa_supported())) ?? .baseline }

    /// The environment variable that lowers the level (for comparisons, or machines where wide vectors
    /// lower the clock): `baseline`, `avx2` or `avx512`.
    public static let environmentVariable = "AEFLOW_KERNELS_ISA"

    /// The level named by ``environmentVariable`` in this process's environment, nil when unset.
    public static func environmentLimit() throws(KernelISAError) -> KernelISA? {
        try limit(named: getenv(environmentVariable).map { String(cString: $0) })
    }

    /// The level a value of ``environmentVariable`` names; nil for nil.
    public static func limit(named value: String?) throws(KernelISAError) -> KernelISA? {
        guard let value else { return nil }
        guard let isa = allCases.first(where: { $0.description == value }) else {
            throw .unknownLevel(value)
        }
        return isa
    }

    /// The level the kernels run at: ``supported``, lowered to the ``environmentVariable`` limit when set.
    /// Commands call ``environmentLimit()`` at start-up so that a bad value is a typed error before this is read.
    public static let active: KernelISA = {
        do {
            let limit = try KernelISA.environmentLimit()
            return min(supported, limit ?? supported)
        } catch {
            preconditionFailure("\(error)")
        }
    }()
}

public enum KernelISAError: Error, Equatable, CustomStringConvertible {
    case unknownLevel(String)

    public var description: String {
        switch self {
        case .unknownLevel(let value):
            "\(KernelISA.environmentVariable)=\(value) is not a kernel level (baseline, avx2 or avx512)"
        }
    }
}

/// Fused inner loops that TensorCore's callers (the Autograd ops) hand raw rows to. Row `b` of an operand
/// starts at `pointer + b * stride`.
public enum Kernels {
    /// Hints that the `lines` cache lines from `p` will be read soon (no effect on results). Scoring a batch of
    /// keys' models reaches each key's cold memory in turn; asked for a window ahead, those reads overlap the work
    /// on the window before.
    @inlinable
    public static func prefetch(_ p: UnsafeRawPointer, lines: Int = 1) {
        for i in 0..<lines { aef_prefetch(p + i * 64) }
    }

    /// ``prefetch(_:lines:)`` of the object `objects[i]` refers to, its address read from the buffer without a retain
    /// (a retain writes the object's count: it would wait on the very miss the prefetch is for).
    @inlinable
    public static func prefetchObject<T: AnyObject>(_ objects: UnsafeBufferPointer<T>, _ i: Int, lines: Int) {
        Kernels.prefetch(address(of: objects, i), lines: lines)
    }

    /// The address of the object `objects[i]` refers to, read without a retain.
    @inlinable
    public static func address<T: AnyObject>(of objects: UnsafeBufferPointer<T>, _ i: Int) -> UnsafeRawPointer {
        UnsafeRawPointer(objects.baseAddress! + i).load(as: UnsafeRawPointer.self)
    }

    /// ``prefetch(_:lines:)`` into the second-level cache only (x86 `prefetcht1`): for a block of many lines read a
    /// little later (a key's model weights, ~100 lines), which asked into the first level filled its miss buffers and
    /// pushed out the data in use (per key, 10,000 keys: the scoring engine 6–7 % faster this way).
    @inlinable
    public static func prefetchToL2(_ p: UnsafeRawPointer, lines: Int = 1) {
        for i in 0..<lines { aef_prefetch_l2(p + i * 64) }
    }

    /// An activation ``dense(rows:inputs:outputs:x:weight:bias:y:activation:isa:)`` applies to its sums.
    public enum DenseActivation: Int32, Sendable {
        case identity = 0, relu = 1, tanh = 2   // (the values of CKernels.h's AEF_DENSE_*)
    }

    /// `y[r] = activation(x[r] · weight + bias)` for `rows` contiguous rows: `weight` is `inputs × outputs` (PyTorch's
    /// weight transposed), `y` does not overlap `x`. For layers of a few rows (a small model's window), where a BLAS
    /// call costs more than the arithmetic. Weight rows and the bias are read in whole 16-float vectors: up to 15
    /// floats past the end of each must be readable memory (the caller pads the array they are in); they never
    /// reach `y`. tanh is ``ScalarMath/fastTanh(_:)``'s formula; sums are in another order and fused (rounding only).
    @inlinable
    public static func dense(
        rows: Int, inputs: Int, outputs: Int,
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
        activation: DenseActivation, isa: KernelISA = .active
    ) {
        var step = aef_dense_step(rows: rows, inputs: inputs, outputs: outputs, x: x, weight: weight, bias: bias, y: y,
                                  activation: activation.rawValue)
        aef_dense(Int32(isa.rawValue), &step)
    }

    /// Floats an array given to ``dense(rows:inputs:outputs:x:weight:bias:y:activation:isa:)`` holds past its last
    /// weight row or bias.
    public static let densePadding = 16

    /// One LSTM time step over a batch (gates `[i, f, g, o]`): activates the gates in place and writes
    /// `h_t` and `c_t` (`out` rows: `[h | c]`) and `tanh(c_t)`. `cPrev` nil is the zero initial state.
    @inlinable
    public static func lstmForwardStep(
        batch: Int, hidden: Int,
        gates: UnsafeMutablePointer<Float>, gatesStride: Int,
        cPrev: UnsafePointer<Float>?, cPrevStride: Int,
        out: UnsafeMutablePointer<Float>, outStride: Int,
        tanhC: UnsafeMutablePointer<Float>, tanhCStride: Int,
        isa: KernelISA = .active
    ) {
        var step = aef_lstm_forward_step(
            batch: batch, hidden: hidden, gates: gates, gates_stride: gatesStride, c_prev: cPrev,
            c_prev_stride: cPrevStride, out: out, out_stride: outStride, tanh_c: tanhC, tanh_c_stride: tanhCStride)
        aef_lstm_forward(Int32(isa.rawValue), &step)
    }

    /// The backward of ``lstmForwardStep``: from the activated `gates`, `tanhC`, the upstream gradients
    /// `dOut` (`[dh | dc]` rows) and the carried `dhCarry` (read) and `dcCarry` (read, then replaced by the
    /// gradient of `c_{t-1}`), both `batch × hidden` contiguous, writes the pre-activation gradients
    /// `dGates`. `prev` holds `[h_{t-1} | c_{t-1}]` rows (nil at t = 0); `hPrevCopy`, when given, receives
    /// `h_{t-1}` (zeros at t = 0). Each `dGates` row is also added to its row of `dGatesSum` and to
    /// `dBias` (`4·hidden`) when those are given.
    @inlinable
    public static func lstmBackwardStep(
        batch: Int, hidden: Int,
        gates: UnsafePointer<Float>, gatesStride: Int,
        tanhC: UnsafePointer<Float>, tanhCStride: Int,
        dOut: UnsafePointer<Float>, dOutStride: Int,
        prev: UnsafePointer<Float>?, prevStride: Int,
        dhCarry: UnsafePointer<Float>, dcCarry: UnsafeMutablePointer<Float>,
        dGates: UnsafeMutablePointer<Float>, dGatesStride: Int,
        hPrevCopy: UnsafeMutablePointer<Float>?, hPrevCopyStride: Int,
        dGatesSum: UnsafeMutablePointer<Float>? = nil, dGatesSumStride: Int = 0,
        dBias: UnsafeMutablePointer<Float>? = nil,
        isa: KernelISA = .active
    ) {
        var step = aef_lstm_backward_step(
            batch: batch, hidden: hidden, gates: gates, gates_stride: gatesStride, tanh_c: tanhC,
            tanh_c_stride: tanhCStride, d_out: dOut, d_out_stride: dOutStride, prev: prev, prev_stride: prevStride,
            dh_carry: dhCarry, dc_carry: dcCarry, d_gates: dGates, d_gates_stride: dGatesStride,
            h_prev_copy: hPrevCopy, h_prev_copy_stride: hPrevCopyStride, d_gates_sum: dGatesSum,
            d_gates_sum_stride: dGatesSumStride, d_bias: dBias)
        aef_lstm_backward(Int32(isa.rawValue), &step)
    }
}
