import TensorCore

/// A scoring pipeline's per-window constants in one allocation: its preprocess chain and the chain's inverse as
/// ``ElementwiseStep``s, each step's parameters, and the threshold's per-column divisors.
///
/// With a model per key, every window of a batch belongs to a different pipeline whose memory is cold; each
/// separate object it reads (an array of maps, each map's two arrays, the divisors) was a cache miss of its own and
/// a retain and release on a cold line. Here they sit together behind one pointer, read without retains.
/// Owned by its pipeline, which deallocates it.
struct PipelineConstants {
    /// The preprocess chain as steps (nil when a step is not a per-element map).
    let preprocess: UnsafeBufferPointer<ElementwiseStep>?
    /// The chain's inverse as steps in the order they apply (nil when a step has no per-element inverse).
    let inverse: UnsafeBufferPointer<ElementwiseStep>?
    /// The threshold's per-column divisors, `features` of them (nil when its element score is no division).
    let divisors: UnsafePointer<Float>?
    /// The threshold's values (a score's `threshold`), copied from here rather than shared: sharing the array
    /// retained it, a locked write to a cold line per window.
    let thresholds: UnsafeBufferPointer<Float>
    private let memory: UnsafeMutableRawPointer
    private let lines: Int

    init(preprocess: [ElementwiseTransform]?, inverse: [ElementwiseTransform]?, divisors: [Float]?, thresholds: [Float]) {
        let chains = [preprocess, inverse]
        let steps = chains.reduce(0) { $0 + ($1?.count ?? 0) }
        let floats = chains.reduce(0) { n, chain in
            n + (chain ?? []).reduce(0) { let p = $1.parameters; return $0 + p.a.count + p.b.count }
        } + (divisors?.count ?? 0) + thresholds.count
        let stepBytes = steps * MemoryLayout<ElementwiseStep>.stride, bytes = stepBytes + floats * MemoryLayout<Float>.stride
        memory = .allocate(byteCount: Swift.max(1, bytes), alignment: MemoryLayout<ElementwiseStep>.alignment)
        lines = Swift.min(8, (bytes + 63) / 64 + 1)   // (+1: the block need not start on a line)
        let stepBase = memory.bindMemory(to: ElementwiseStep.self, capacity: steps)
        var floatAt = (memory + stepBytes).bindMemory(to: Float.self, capacity: floats)
        func place(_ values: [Float]) -> UnsafePointer<Float>? {
            guard !values.isEmpty else { return nil }
            floatAt.initialize(from: values, count: values.count)
            defer { floatAt += values.count }
            return UnsafePointer(floatAt)
        }
        var next = 0
        func placeChain(_ chain: [ElementwiseTransform]?) -> UnsafeBufferPointer<ElementwiseStep>? {
            guard let chain else { return nil }
            let first = next
            for map in chain {
                let p = map.parameters
                (stepBase + next).initialize(to: ElementwiseStep(kind: p.kind, a: place(p.a), b: place(p.b), s: p.s, t: p.t))
                next += 1
            }
            return UnsafeBufferPointer(start: stepBase + first, count: chain.count)
        }
        self.preprocess = placeChain(preprocess)
        self.inverse = placeChain(inverse)
        self.divisors = divisors.flatMap(place)
        self.thresholds = UnsafeBufferPointer(start: place(thresholds) ?? UnsafePointer(floatAt), count: thresholds.count)
    }

    /// Hints that the constants will be read soon.
    func prefetch() { Kernels.prefetch(memory, lines: lines) }

    /// Frees the memory (the owning pipeline's `deinit`); the value must not be used afterwards.
    func deallocate() { memory.deallocate() }
}
