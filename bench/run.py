#!/usr/bin/env python3
"""Side-by-side benchmark runner: AEFlow and PyTorch measured in the same run, ratios printed.

    make bench                         # builds release, runs every suite
    .venv/bin/python bench/run.py engine [--threads 1] [--quick]

Prints a Markdown table per suite (paste into BENCHMARKS.md with the command line shown at the top).
"""
import argparse
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, ".build", "release")


def json_lines(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def engine(args):
    extra = ["--threads", str(args.threads)] + (["--quick"] if args.quick else [])
    ours = json_lines([os.path.join(RELEASE, "EngineBench")] + extra)
    theirs = json_lines([sys.executable, os.path.join(ROOT, "bench", "torch_engine.py")] + extra)
    import torch

    print(f"### Engine ({args.threads} thread{'s' if args.threads > 1 else ''}; torch {torch.__version__})\n")
    print("Linear forward+backward at batch 256 (GFLOP/s; forward+backward = 3 GEMMs):\n")
    print("| in×out | bare sgemm | AEFlow fwd+bwd | AEFlow / sgemm | PyTorch fwd+bwd | AEFlow / PyTorch |")
    print("|---|---|---|---|---|---|")
    for o, t in zip([r for r in ours if r["bench"] == "linear_fwd_bwd"], [r for r in theirs if r["bench"] == "linear_fwd_bwd"]):
        print(f"| {o['in']}×{o['out']} | {o['sgemm_gflops']:.1f} | {o['fwd_bwd_gflops']:.1f} | "
              f"{100 * o['fwd_bwd_gflops'] / o['sgemm_gflops']:.0f} % | {t['fwd_bwd_gflops']:.1f} | "
              f"{o['fwd_bwd_gflops'] / t['fwd_bwd_gflops']:.2f}× |")
    o = next(r for r in ours if r["bench"] == "op_overhead")
    t = next(r for r in theirs if r["bench"] == "op_overhead")
    print("\nPer-op cost on 4-element tensors (µs per op, lower is better):\n")
    print("| operation | AEFlow | PyTorch | speed-up |")
    print("|---|---|---|---|")
    rows = [("tensor add (no autograd)", "tensor_add_us"), ("tensor tanh (no autograd)", "tensor_tanh_us"),
            ("add of parameters under no-grad", "variable_add_nograd_us"),
            ("add recorded for backward", "variable_add_recorded_us"),
            ("4 ops forward + backward", "fwd_bwd_4ops_us")]
    for label, key in rows:
        print(f"| {label} | {o[key]:.3f} | {t[key]:.3f} | {t[key] / o[key]:.1f}× |")
    print("\n2-layer MLP training step (Linear–tanh–Linear, MSE, Adam; µs per step):\n")
    print("| batch, in→hidden→in | AEFlow | PyTorch | speed-up |")
    print("|---|---|---|---|")
    for o, t in zip([r for r in ours if r["bench"] == "mlp_step"], [r for r in theirs if r["bench"] == "mlp_step"]):
        print(f"| {o['batch']}, {o['in']}→{o['hidden']}→{o['in']} | {o['step_us']:.1f} | {t['step_us']:.1f} | "
              f"{t['step_us'] / o['step_us']:.1f}× |")
    print()


def models(args):
    """Training wall time and inference, AEFlow vs numalogic's TimeseriesTrainer, same data and configs."""
    from numalogic.synthetic import SyntheticTSGenerator
    from safetensors.torch import save_file
    import torch

    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    data = os.path.join(ROOT, "bench", "results", "model_data.safetensors")
    rows = 1500 if args.quick else 5000
    df = SyntheticTSGenerator(seq_len=rows, num_series=3, freq="T", primary_period=720, secondary_period=6000,
                              random_seed=3).gen_tseries()
    x = df.to_numpy(dtype="float32")
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    save_file({"train": torch.from_numpy(x).contiguous()}, data)
    epochs = 2 if args.quick else 10
    common = ["--data", data, "--configs", os.path.join(ROOT, "bench", "model_configs.json"), "--epochs", str(epochs),
              "--batch", "64", "--threads", str(args.threads)]
    ours = {r["model"]: r for r in json_lines([os.path.join(RELEASE, "ModelBench")] + common)}
    theirs = {r["model"]: r for r in json_lines([sys.executable, os.path.join(ROOT, "bench", "numalogic_models.py")] + common)}
    import importlib.metadata as md

    print(f"### Autoencoders vs numalogic {md.version('numalogic')} (torch {torch.__version__}, "
          f"{args.threads} thread{'s' if args.threads > 1 else ''})\n")
    print(f"Same standardised synthetic series ({rows} rows × 3 metrics, windows of 12), same configs "
          f"(bench/model_configs.json), batch 64, {epochs} epochs. Inference = element-wise reconstruction errors.\n")
    print("| model | train AEFlow | train numalogic | speed-up | 1 window AEFlow | 1 window numalogic | speed-up "
          "| batch 4096 AEFlow | batch 4096 numalogic | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in ours:
        o, t = ours[name], theirs[name]
        print(f"| {name} | {o['train_seconds']:.2f} s | {t['train_seconds']:.2f} s | {t['train_seconds'] / o['train_seconds']:.1f}× "
              f"| {o['single_window_us']:.1f} µs | {t['single_window_us']:.1f} µs | {t['single_window_us'] / o['single_window_us']:.1f}× "
              f"| {o['batch4096_windows_per_s'] / 1e3:.0f} k/s | {t['batch4096_windows_per_s'] / 1e3:.0f} k/s "
              f"| {o['batch4096_windows_per_s'] / t['batch4096_windows_per_s']:.1f}× |")
    print()


SUITES = {"engine": engine, "models": models}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suites", nargs="*", default=list(SUITES), help=f"suites to run: {', '.join(SUITES)}")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    args = ap.parse_args()
    print(f"Machine: {cpu_name()}, {os.cpu_count()} cores; command: bench/run.py {' '.join(sys.argv[1:])}\n")
    for s in args.suites:
        if s not in SUITES:
            sys.exit(f"unknown suite {s!r}; known: {', '.join(SUITES)}")
        SUITES[s](args)


if __name__ == "__main__":
    main()
