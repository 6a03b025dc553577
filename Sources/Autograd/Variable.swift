import TensorCore

/// A tensor in a reverse-mode autodiff graph.
///
/// Leaves created with `requiresGrad: true` (parameters) accumulate gradients in ``grad`` across
/// ``backward(seed:)`` calls until cleared with ``zeroGrad()``. Results of operations on variables that
/// require gradients remember how to propagate them back, unless recorded under ``withNoGrad(_:)``.
/// A graph belongs to one thread; only tensors (`Sendable`) cross threads.
public final class Variable {
    public var value: Tensor
    public var grad: Tensor?
    public let requiresGrad: Bool
    @usableFromInline var node: Node?
    /// Gradient flowing into this variable during one backward sweep.
    var pending: Tensor?

    public init(_ value: Tensor, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.node = nil
    }

    @usableFromInline
    init(_ value: Tensor, node: Node) {
        self.value = value
        self.requiresGrad = true
        self.node = node
    }

    @inlinable public var shape: Shape { value.shape }
    @inlinable public var rank: Int { value.rank }

    /// Whether this variable is an input of the graph (not produced by a recorded operation).
    public var isLeaf: Bool { node == nil }

    public func zeroGrad() { grad = nil }

    /// Whether an operation on `inputs` must record a graph node.
    @inlinable
    public static func recording(_ inputs: Variable...) -> Bool {
        var any = false
        for v in inputs where v.requiresGrad { any = true }
        return any && GradMode.isEnabled
    }

    /// Records an operation's result. `backward(g)` receives the gradient of the result and returns one
    /// gradient per input, in order, shaped like that input (`nil` for inputs that need none).
    /// Callers check ``recording(_:)`` first so that untracked evaluation allocates no closure.
    @inlinable
    public static func record(
        _ value: Tensor, inputs: [Variable], backward: @escaping (Tensor) -> [Tensor?]
    ) -> Variable {
        Variable(value, node: Node(inputs: inputs, backward: backward))
    }
}

@usableFromInline
final class Node {
    @usableFromInline var inputs: [Variable]
    @usableFromInline let backward: (Tensor) -> [Tensor?]

    @usableFromInline
    init(inputs: [Variable], backward: @escaping (Tensor) -> [Tensor?]) {
        self.inputs = inputs
        self.backward = backward
    }

    /// Tears the graph down iteratively: releasing a long chain (an unrolled recurrence, thousands of
    /// steps) recursively would overflow the stack. Any input that only this node keeps alive has its own
    /// node's inputs moved onto a local work list before it is released.
    deinit {
        var stack = inputs
        inputs.removeAll()
        while var v = stack.popLast() {
            guard isKnownUniquelyReferenced(&v), var n = v.node else { continue }
            v.node = nil
            if isKnownUniquelyReferenced(&n) {
                stack.append(contentsOf: n.inputs)
                n.inputs.removeAll()
            }
        }
    }
}

extension Variable: CustomStringConvertible {
    public var description: String { "Variable(\(value)\(requiresGrad ? ", requiresGrad" : ""))" }
}
