import Autograd

/// Layers applied in order; children are named `0`, `1`, … as in PyTorch's `nn.Sequential`.
public final class Sequential: Layer {
    public private(set) var layers: [any Layer]
    public var isTraining = true

    public init(_ layers: [any Layer]) { self.layers = layers }
    public convenience init(_ layers: any Layer...) { self.init(layers) }

    public func append(_ layer: any Layer) { layers.append(layer) }

    public var children: [(String, any Module)] { layers.enumerated().map { (String($0.offset), $0.element) } }

    public func callAsFunction(_ x: Variable) -> Variable {
        var h = x
        for l in layers { h = l(h) }
        return h
    }
}

/// An indexed list of modules (PyTorch's `nn.ModuleList`), children named `0`, `1`, ….
public final class ModuleList<Element: Module>: Module {
    public private(set) var modules: [Element]
    public var isTraining = true

    public init(_ modules: [Element]) { self.modules = modules }

    public var children: [(String, any Module)] { modules.enumerated().map { (String($0.offset), $0.element) } }
    public subscript(i: Int) -> Element { modules[i] }
    public var count: Int { modules.count }
}

/// Flattens axes `startDim…endDim` (PyTorch's `nn.Flatten`, defaults 1 and −1).
public final class Flatten: Layer {
    public let startDim: Int, endDim: Int
    public var isTraining = true
    public init(startDim: Int = 1, endDim: Int = -1) { (self.startDim, self.endDim) = (startDim, endDim) }
    public func callAsFunction(_ x: Variable) -> Variable { x.flattened(from: startDim, through: endDim) }
}

/// Splits axis `dim` into `sizes` (PyTorch's `nn.Unflatten`).
public final class Unflatten: Layer {
    public let dim: Int, sizes: [Int]
    public var isTraining = true
    public init(dim: Int, sizes: [Int]) { (self.dim, self.sizes) = (dim, sizes) }

    public func callAsFunction(_ x: Variable) -> Variable {
        let d = x.shape.axis(dim)
        precondition(sizes.reduce(1, *) == x.shape[d], "Unflatten(\(dim), \(sizes)) of \(x.shape)")
        var dims = Array(x.shape.dims[..<d])
        dims += sizes
        dims += x.shape.dims[(d + 1)...]
        return x.reshaped(dims)
    }
}
