/// An array's elements moved out one by one, in order (``Swift/Array/draining()``).
public struct Draining<Element>: Sequence, IteratorProtocol {
    /// What is left, last first.
    var rest: [Element]

    public mutating func next() -> Element? { rest.popLast() }
}

extension Array {
    /// The elements, in order, each moved out of the array rather than copied. A `for` loop over an array copies
    /// each element out — retaining every reference it holds, released again with the array: on the daemon's
    /// hand-offs between threads, the points' keys, values and sources and the outputs' bodies, per point.
    public consuming func draining() -> Draining<Element> {
        var a = self
        // Reversed by moves (`reverse()` swaps through copies), then taken from the end.
        a.withUnsafeMutableBufferPointer { b in
            guard let base = b.baseAddress else { return }
            var (i, j) = (0, b.count - 1)
            while i < j {
                let t = (base + i).move()
                (base + i).moveInitialize(from: base + j, count: 1)
                (base + j).initialize(to: t)
                (i, j) = (i + 1, j - 1)
            }
        }
        return Draining(rest: a)
    }
}
