"""PyTorch side of the engine benchmark: the same measurements as bench/EngineBench, JSON lines."""
import json
import sys
import time

import torch
import torch.nn as nn


def measure(iterations, body, repeats=7):
    for _ in range(max(1, iterations // 4)):
        body()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iterations):
            body()
        samples.append((time.perf_counter() - t0) / iterations)
    return sorted(samples)[repeats // 2]


def main(threads, quick):
    torch.set_num_threads(threads)
    scale = 0.1 if quick else 1.0
    it = lambda n: max(1, int(n * scale))
    torch.manual_seed(1)
    out = []
    for in_f, out_f in [(1024, 1024), (512, 512), (256, 256)]:
        batch = 256
        x = torch.rand(batch, in_f) * 2 - 1
        w = torch.rand(out_f, in_f) * 2 - 1
        c = torch.empty(batch, out_f)
        flops = 2.0 * batch * in_f * out_f
        n = it(20 if in_f >= 1024 else 100)
        gemm = measure(n, lambda: torch.mm(x, w.t(), out=c))
        layer = nn.Linear(in_f, out_f)
        xv = x.clone().requires_grad_(True)
        seed = torch.ones(batch, out_f)

        def fwd_bwd():
            layer.zero_grad()
            xv.grad = None
            layer(xv).backward(seed)

        t = measure(n, fwd_bwd)
        out.append({"bench": "linear_fwd_bwd", "batch": batch, "in": in_f, "out": out_f, "threads": threads,
                    "sgemm_gflops": flops / gemm / 1e9, "fwd_bwd_gflops": 3 * flops / t / 1e9, "fwd_bwd_ms": t * 1e3})

    a4 = torch.tensor([1.0, 2, 3, 4])
    b4 = torch.tensor([0.5, 0.25, 2, 1])
    n = it(200_000)
    raw_add = measure(n, lambda: a4 + b4)
    raw_tanh = measure(n, lambda: torch.tanh(a4))
    pa, pb = a4.clone().requires_grad_(True), b4.clone().requires_grad_(True)

    def nograd_add():
        with torch.no_grad():
            return pa + pb

    recorded_add = measure(n, lambda: pa + pb)
    nograd = measure(n, nograd_add)

    def chain():
        y = (torch.tanh(pa * pb) + pa).sum()
        y.backward()

    recorded_chain = measure(it(50_000), chain)
    out.append({"bench": "op_overhead", "tensor_add_us": raw_add * 1e6, "tensor_tanh_us": raw_tanh * 1e6,
                "variable_add_untracked_us": raw_add * 1e6, "variable_add_nograd_us": nograd * 1e6,
                "variable_add_recorded_us": recorded_add * 1e6, "fwd_bwd_4ops_us": recorded_chain * 1e6})

    for batch, in_f, hidden in [(64, 36, 16), (256, 256, 512)]:
        fc1, fc2 = nn.Linear(in_f, hidden), nn.Linear(hidden, in_f)
        opt = torch.optim.Adam(list(fc1.parameters()) + list(fc2.parameters()), lr=1e-3)
        x = torch.rand(batch, in_f) * 2 - 1

        def step():
            opt.zero_grad()
            y = fc2(torch.tanh(fc1(x)))
            nn.functional.mse_loss(y, x).backward()
            opt.step()

        t = measure(it(2000 if batch == 64 else 300), step)
        out.append({"bench": "mlp_step", "batch": batch, "in": in_f, "hidden": hidden, "threads": threads, "step_us": t * 1e6})
    for o in out:
        print(json.dumps(o))


if __name__ == "__main__":
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
    main(threads, "--quick" in sys.argv)
