import Autograd
import TensorCore

/// A network component with explicitly named state, mirroring `torch.nn.Module`.
///
/// A module lists its own parameters and buffers (in PyTorch's registration order) and its named
/// children; dotted state-dict names, parameter collection and train/eval switching follow from that.
public protocol Module: AnyObject {
    /// This module's own parameters, without prefix, in registration order.
    var parameters: [(String, Variable)] { get }
    /// This module's own buffers (running statistics), without prefix, in registration order.
    var buffers: [(String, Buffer)] { get }
    /// Direct sub-modules, in registration order.
    var children: [(String, any Module)] { get }
    /// Training mode (dropout active, batch statistics) versus evaluation mode.
    var isTraining: Bool { get set }
}

/// A module applied to one input.
public protocol Layer: Module {
    func callAsFunction(_ input: Variable) -> Variable
}

extension Module {
    public var parameters: [(String, Variable)] { [] }
    public var buffers: [(String, Buffer)] { [] }
    public var children: [(String, any Module)] { [] }

    /// Every parameter with its dotted name (PyTorch's `named_parameters`).
    public func namedParameters(prefix: String = "") -> [(String, Variable)] {
        var out = parameters.map { (prefix + $0.0, $0.1) }
        for (name, child) in children { out += child.namedParameters(prefix: prefix + name + ".") }
        return out
    }

    /// Every buffer with its dotted name.
    public func namedBuffers(prefix: String = "") -> [(String, Buffer)] {
        var out = buffers.map { (prefix + $0.0, $0.1) }
        for (name, child) in children { out += child.namedBuffers(prefix: prefix + name + ".") }
        return out
    }

    /// All parameters, for an optimizer.
    public var trainableParameters: [Variable] { namedParameters().map(\.1) }

    /// Sets training mode on this module and every descendant.
    public func train(_ mode: Bool = true) {
        isTraining = mode
        for (_, child) in children { child.train(mode) }
    }

    /// Evaluation mode (PyTorch's `eval()`).
    public func eval() { train(false) }

    /// Clears the gradient of every parameter.
    public func zeroGrad() { for p in trainableParameters { p.grad = nil } }

    /// The number of scalar parameters.
    public var parameterCount: Int { trainableParameters.reduce(0) { $0 + $1.value.scalarCount } }
}

/// A module that draws random numbers in its forward pass (dropout masks, variational samples).
public protocol StochasticModule: Module {
    /// Restarts the module's random stream.
    func reseed(_ seed: UInt64)
}

extension Module {
    /// Reseeds every stochastic module in the tree from one seed (each gets its own derived stream), so a
    /// training run is reproducible from its seed.
    public func reseedStochasticModules(_ seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        func visit(_ m: any Module) {
            if let s = m as? any StochasticModule { s.reseed(rng.next()) }
            for (_, c) in m.children { visit(c) }
        }
        visit(self)
    }
}

/// A mutable non-parameter tensor of a module, such as BatchNorm's running statistics.
public final class Buffer {
    public var value: StateTensor
    public init(_ value: StateTensor) { self.value = value }

    /// The buffer as a float tensor (traps on an integer buffer: a programming error).
    public var tensor: Tensor {
        get {
            guard case .float(let t) = value else { preconditionFailure("buffer holds int64 values, not floats") }
            return t
        }
        set { value = .float(newValue) }
    }
}
