import TensorCore

// Broadcasting arithmetic. Each gradient is summed back over broadcast dimensions (`unbroadcast`).

extension Variable {
    public static func + (a: Variable, b: Variable) -> Variable {
        let y = a.value + b.value
        guard recording(a, b) else { return Variable(y) }
        let (sa, sb, na, nb) = (a.shape, b.shape, a.requiresGrad, b.requiresGrad)
        return record(y, inputs: [a, b]) { g in
            [na ? g.unbroadcast(to: sa) : nil, nb ? g.unbroadcast(to: sb) : nil]
        }
    }

    public static func - (a: Variable, b: Variable) -> Variable {
        let y = a.value - b.value
        guard recording(a, b) else { return Variable(y) }
        let (sa, sb, na, nb) = (a.shape, b.shape, a.requiresGrad, b.requiresGrad)
        return record(y, inputs: [a, b]) { g in
            [na ? g.unbroadcast(to: sa) : nil, nb ? (-g).unbroadcast(to: sb) : nil]
        }
    }

    public static func * (a: Variable, b: Variable) -> Variable {
        let (av, bv) = (a.value, b.value)
        let y = av * bv
        guard recording(a, b) else { return Variable(y) }
        let (na, nb) = (a.requiresGrad, b.requiresGrad)
        return record(y, inputs: [a, b]) { g in
            [na ? (g * bv).unbroadcast(to: av.shape) : nil, nb ? (g * av).unbroadcast(to: bv.shape) : nil]
        }
    }

    public static func / (a: Variable, b: Variable) -> Variable {
        let (av, bv) = (a.value, b.value)
        let y = av / bv
        guard recording(a, b) else { return Variable(y) }
        let (na, nb) = (a.requiresGrad, b.requiresGrad)
        return record(y, inputs: [a, b]) { g in
            [na ? (g / bv).unbroadcast(to: av.shape) : nil,
             nb ? Tensor.zip(g * y, bv) { -$0 / $1 }.unbroadcast(to: bv.shape) : nil]
        }
    }

    public static prefix func - (a: Variable) -> Variable {
        let y = -a.value
        guard recording(a) else { return Variable(y) }
        return record(y, inputs: [a]) { g in [-g] }
    }

    public static func + (a: Variable, s: Float) -> Variable {
        let y = a.value + s
        guard recording(a) else { return Variable(y) }
        return record(y, inputs: [a]) { g in [g] }
    }

    public static func - (a: Variable, s: Float) -> Variable { a + (-s) }
    public static func + (s: Float, a: Variable) -> Variable { a + s }
    public static func - (s: Float, a: Variable) -> Variable { -a + s }

    public static func * (a: Variable, s: Float) -> Variable {
        let y = a.value * s
        guard recording(a) else { return Variable(y) }
        return record(y, inputs: [a]) { g in [g * s] }
    }

    public static func * (s: Float, a: Variable) -> Variable { a * s }
    public static func / (a: Variable, s: Float) -> Variable { a * (1 / s) }

    /// Elementwise product with a constant tensor (broadcast), e.g. a dropout mask.
    public static func * (a: Variable, c: Tensor) -> Variable { a * Variable(c) }
    /// Elementwise sum with a constant tensor (broadcast).
    public static func + (a: Variable, c: Tensor) -> Variable { a + Variable(c) }
    /// Elementwise difference with a constant tensor (broadcast).
    public static func - (a: Variable, c: Tensor) -> Variable { a - Variable(c) }
}
