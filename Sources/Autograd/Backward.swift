import TensorCore

extension Variable {
    /// Propagates gradients from this variable to every leaf that requires them.
    ///
    /// `seed` is the gradient of some scalar objective with respect to this variable; it defaults to 1
    /// for a one-element variable (the usual `loss.backward()`). Leaf gradients are *added* to ``grad``.
    public func backward(seed: Tensor? = nil) {
        precondition(requiresGrad, "backward() on a variable that does not require gradients")
        let start: Tensor
        if let seed {
            precondition(seed.shape == shape, "backward seed \(seed.shape) does not match \(shape)")
            start = seed
        } else {
            precondition(value.scalarCount == 1, "backward() without a seed needs a one-element variable, got \(shape)")
            start = Tensor.ones(shape)
        }
        let order = topologicalOrder()
        pending = start
        for v in order.reversed() {
            guard let g = v.pending else { continue }
            v.pending = nil
            guard let node = v.node else {
                if v.grad == nil { v.grad = g } else { v.grad!.addInPlace(g) }
                continue
            }
            let grads = node.backward(g)
            precondition(grads.count == node.inputs.count, "an operation returned \(grads.count) gradients for \(node.inputs.count) inputs")
            for (input, gi) in Swift.zip(node.inputs, grads) {
                guard input.requiresGrad, let gi else { continue }
                precondition(gi.shape == input.shape, "gradient \(gi.shape) for an input of shape \(input.shape)")
                if input.pending == nil { input.pending = gi } else { input.pending!.addInPlace(gi) }
            }
        }
    }

    /// Variables reachable from `self` through recorded nodes, inputs before the results that use them.
    func topologicalOrder() -> [Variable] {
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        // Iterative post-order DFS (graphs of unrolled recurrences are deep).
        var stack: [(Variable, Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (v, next) = stack.popLast() {
            let inputs = v.node?.inputs ?? []
            if next < inputs.count {
                stack.append((v, next + 1))
                let child = inputs[next]
                if child.requiresGrad && visited.insert(ObjectIdentifier(child)).inserted {
                    stack.append((child, 0))
                }
            } else {
                order.append(v)
            }
        }
        return order
    }
}
