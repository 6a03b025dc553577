import Autograd
import Testing
import TestSupport
import TensorCore

@Suite struct GraphTests {
    @Test func gradientsAccumulateAcrossBackwardCallsUntilZeroed() {
        let w = Variable(Tensor([1, 2, 3]), requiresGrad: true)
        (w * 2).sum().backward()
        #expect(w.grad == Tensor([2, 2, 2]))
        (w * 3).sum().backward()
        #expect(w.grad == Tensor([5, 5, 5]))
        w.zeroGrad()
        #expect(w.grad == nil)
        (w.squared()).sum().backward()
        #expect(w.grad == Tensor([2, 4, 6]))
    }

    @Test func sharedSubexpressionsSumTheirContributions() {
        let x = Variable(Tensor([3]), requiresGrad: true)
        let y = x * x          // 2x
        let z = y * x + y      // d/dx (x³ + x²) = 3x² + 2x
        z.sum().backward()
        #expect(x.grad == Tensor([33]))
    }

    @Test func constantsGetNoGradientAndNoGraph() {
        let c = Variable(Tensor([1, 2]))
        let w = Variable(Tensor([3, 4]), requiresGrad: true)
        let y = c * w
        #expect(y.requiresGrad)
        #expect(!(c * c).requiresGrad)
        y.sum().backward()
        #expect(c.grad == nil)
        #expect(w.grad == Tensor([1, 2]))
    }

    @Test func noGradScopeRecordsNothing() {
        let w = Variable(Tensor([1, 2]), requiresGrad: true)
        let y = withNoGrad { (w * 2).tanh() }
        #expect(!y.requiresGrad)
        #expect(y.isLeaf)
        #expect(GradMode.isEnabled)
        let nested = withNoGrad { withNoGrad { GradMode.isEnabled } }
        #expect(!nested)
        let after = w * 2
        #expect(after.requiresGrad)
    }

    @Test func noGradIsPerThread() async {
        let enabledElsewhere = await withNoGrad {
            // A separate task does not inherit a synchronous no-grad scope's binding.
            Task.detached { GradMode.isEnabled }
        }.value
        #expect(enabledElsewhere)
    }

    @Test func deepGraphsDoNotOverflowTheStack() {
        let x = Variable(Tensor([1]), requiresGrad: true)
        var y = x
        for _ in 0..<20_000 { y = y * 1.0001 }
        y.sum().backward()
        expectClose(x.grad!.scalar, Float(1.0001).pow(20_000), rtol: 1e-3)
    }

    @Test func seededBackwardComputesAVectorJacobianProduct() {
        let x = Variable(Tensor([1, 2, 3]), requiresGrad: true)
        let y = x.squared()
        y.backward(seed: Tensor([1, 0, -1]))
        #expect(x.grad == Tensor([2, 0, -6]))
    }
}

private extension Float {
    func pow(_ n: Int) -> Float { (0..<n).reduce(Float(1)) { acc, _ in acc * self } }
}

@Suite struct GradCheckerSelfTests {
    /// The checker must catch a wrong derivative (here: d/dx x² reported as x instead of 2x).
    @Test func detectsAWrongVJP() {
        withKnownIssue {
            gradCheck([Tensor([0.5, -1, 2])], "deliberately wrong") { xs in
                let x = xs[0]
                guard Variable.recording(x) else { return Variable(x.value.squared()) }
                let xv = x.value
                return Variable.record(xv.squared(), inputs: [x]) { g in [g * xv] }
            }
        }
    }
}
