import Autograd

/// `max(0, x)`.
public final class ReLU: Layer {
    public var isTraining = true
    public init() {}
    public func callAsFunction(_ x: Variable) -> Variable { x.relu() }
}

public final class Tanh: Layer {
    public var isTraining = true
    public init() {}
    public func callAsFunction(_ x: Variable) -> Variable { x.tanh() }
}

public final class Sigmoid: Layer {
    public var isTraining = true
    public init() {}
    public func callAsFunction(_ x: Variable) -> Variable { x.sigmoid() }
}

/// `log(1 + eˣ)`, identity above 20 (PyTorch's defaults beta 1, threshold 20).
public final class Softplus: Layer {
    public var isTraining = true
    public init() {}
    public func callAsFunction(_ x: Variable) -> Variable { x.softplus() }
}

public final class Softmax: Layer {
    public let axis: Int
    public var isTraining = true
    public init(axis: Int = -1) { self.axis = axis }
    public func callAsFunction(_ x: Variable) -> Variable { x.softmax(axis: axis) }
}

public final class LogSoftmax: Layer {
    public let axis: Int
    public var isTraining = true
    public init(axis: Int = -1) { self.axis = axis }
    public func callAsFunction(_ x: Variable) -> Variable { x.logSoftmax(axis: axis) }
}

/// The identity (a placeholder that keeps Sequential indices aligned with PyTorch's).
public final class Identity: Layer {
    public var isTraining = true
    public init() {}
    public func callAsFunction(_ x: Variable) -> Variable { x }
}
