extension Tensor {
    public static func zeros(_ shape: Shape) -> Tensor { Tensor(shape: shape, repeating: 0) }
    public static func ones(_ shape: Shape) -> Tensor { Tensor(shape: shape, repeating: 1) }
    public static func full(_ shape: Shape, _ value: Float) -> Tensor { Tensor(shape: shape, repeating: value) }

    /// `[start, start + step, …]` up to but excluding `end` (like `torch.arange`).
    public static func arange(_ start: Float = 0, _ end: Float, step: Float = 1) -> Tensor {
        precondition(step != 0 && step.isFinite, "arange step must be finite and non-zero, got \(step)")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        let t = Tensor(uninitializedShape: [n])
        for i in 0..<n { t.storage.pointer[i] = start + Float(i) * step }
        return t
    }

    /// Elements drawn uniformly from `[low, high)`.
    public static func uniform(
        _ shape: Shape, low: Float = 0, high: Float = 1, using rng: inout RandomGenerator
    ) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        let width = high - low
        for i in 0..<t.scalarCount { t.storage.pointer[i] = low + width * rng.nextUniform() }
        return t
    }

    /// Elements drawn from a normal distribution with the given mean and standard deviation.
    public static func normal(
        _ shape: Shape, mean: Float = 0, std: Float = 1, using rng: inout RandomGenerator
    ) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.scalarCount { t.storage.pointer[i] = mean + std * rng.nextNormal() }
        return t
    }

    /// Bernoulli(p) draws as 0/1 floats.
    public static func bernoulli(_ shape: Shape, p: Float, using rng: inout RandomGenerator) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.scalarCount { t.storage.pointer[i] = rng.nextUniform() < p ? 1 : 0 }
        return t
    }

    public static func zeros(like other: Tensor) -> Tensor { zeros(other.shape) }
    public static func ones(like other: Tensor) -> Tensor { ones(other.shape) }
}
