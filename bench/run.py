#!/usr/bin/env python3
"""Side-by-side benchmark runner: AEFlow and PyTorch measured in the same run, ratios printed.

    make bench                         # builds release, runs every suite
    .venv/bin/python bench/run.py engine [--threads 1] [--quick]
    .venv/bin/python bench/run.py worker [--baseline OTHER/.build/release]   # the scoring worker alone, A/B

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


def json_lines(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, **env} if env else None).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def bench_rows(cmd, bench="daemon", env=None):
    """The rows of one kind (`"bench": ...`) among a program's JSON lines (LoadGen also prints its probe and others)."""
    return [r for r in json_lines(cmd, env=env) if r["bench"] == bench]


def pipeline_loadgen(args, rates):
    """LoadGen's pipeline-wide rows for 10,000 keys at `rates`, 3 s each (2 with --quick), no idle-machine probe."""
    return [os.path.join(RELEASE, "LoadGen"), "--keys", "10000", "--rates", rates, "--seconds", "2" if args.quick else "3",
            "--probe-seconds", "0"]


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
    print("| in×out | OpenBLAS sgemm | BLAS.sgemm as routed | AEFlow fwd+bwd | AEFlow / OpenBLAS | PyTorch fwd+bwd "
          "| AEFlow / PyTorch |")
    print("|---|---|---|---|---|---|---|")
    for o, t in zip([r for r in ours if r["bench"] == "linear_fwd_bwd"], [r for r in theirs if r["bench"] == "linear_fwd_bwd"]):
        print(f"| {o['in']}×{o['out']} | {o['sgemm_gflops']:.1f} | {o['routed_sgemm_gflops']:.1f} ({o['kernel_isa']}) "
              f"| {o['fwd_bwd_gflops']:.1f} | {100 * o['fwd_bwd_gflops'] / o['sgemm_gflops']:.0f} % "
              f"| {t['fwd_bwd_gflops']:.1f} | {o['fwd_bwd_gflops'] / t['fwd_bwd_gflops']:.2f}× |")
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
    print("\nInference as the daemon scores (compiled plan: packed weights, folded BatchNorm, fused activations, reused "
          "scratch) next to the autograd engine and numalogic, same run:\n")
    print("| model | 1 window plan | 1 window autograd | 1 window numalogic | plan vs numalogic "
          "| batch 4096 plan | batch 4096 autograd | batch 4096 numalogic |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ours:
        o, t = ours[name], theirs[name]
        print(f"| {name} | {o['single_window_plan_us']:.2f} µs | {o['single_window_us']:.1f} µs | {t['single_window_us']:.1f} µs "
              f"| {t['single_window_us'] / o['single_window_plan_us']:.0f}× "
              f"| {o['batch4096_plan_windows_per_s'] / 1e3:.0f} k/s | {o['batch4096_windows_per_s'] / 1e3:.0f} k/s "
              f"| {t['batch4096_windows_per_s'] / 1e3:.0f} k/s |")
    print("\nA model per key (256 keys' pipelines of each architecture, own weights and StandardScaler statistics, one "
          "window each): one ScoringPipeline.forward call per key vs the stacked pass the daemon uses, per window; "
          "numalogic's one window (above) is its per-key call:\n")
    print("| model | per-key calls | stacked pass | stacked vs calls | numalogic per key | stacked vs numalogic |")
    print("|---|---|---|---|---|---|")
    for name in ours:
        o, t = ours[name], theirs[name]
        print(f"| {name} | {o['per_key_call_us']:.2f} µs | {o['stacked_per_key_us']:.2f} µs | {o['per_key_call_us'] / o['stacked_per_key_us']:.1f}× "
              f"| {t['single_window_us']:.1f} µs | {t['single_window_us'] / o['stacked_per_key_us']:.0f}× |")
    print()


def backtest(args):
    """aeflow backtest on a labelled synthetic series: numalogic's scoring vs the adaptive mode."""
    import time
    import numpy as np
    from numalogic.synthetic import SyntheticTSGenerator, AnomalyGenerator

    out = os.path.join(ROOT, "bench", "results")
    os.makedirs(out, exist_ok=True)
    rows = 8000 if args.quick else 20160            # 14 days of minutes
    gen = SyntheticTSGenerator(seq_len=rows, num_series=3, freq="T", primary_period=1440, secondary_period=10080,
                               seasonal_ts_prob=1.0, random_seed=21)
    df = gen.gen_tseries()
    labels = np.zeros(rows, dtype=int)
    ref = df.iloc[: rows // 4]
    # Labelled anomalies in the second half: global spikes, contextual dips and a collective burst.
    for k, (kind, start) in enumerate([("global", 0.55), ("contextual", 0.65), ("collective", 0.75), ("global", 0.85), ("contextual", 0.93)]):
        a, b = int(rows * start), int(rows * start) + 240
        seg = df.iloc[a:b]
        inj = AnomalyGenerator(ref, anomaly_type=kind, anomaly_ratio=0.05, random_seed=100 + k).inject_anomalies(seg, cols=["s1", "s2"])
        labels[a:b] = np.maximum(labels[a:b], (inj["is_anomaly"].to_numpy() > 0).astype(int))
        df.iloc[a:b] = inj.drop(columns=["is_anomaly"]).to_numpy()
    # A regime change that is not an anomaly: s3's level rises 25 % and stays there.
    shift = int(rows * 0.6)
    df.iloc[shift:, 2] = df.iloc[shift:, 2] * 1.25
    csv = os.path.join(out, "backtest.csv")
    stamps = [int(t.timestamp() * 1000) for t in df.index]
    with open(csv, "w") as f:
        f.write("timestamp,s1,s2,s3,label\n")
        for i in range(rows):
            v = df.iloc[i]
            f.write(f"{stamps[i]},{v.iloc[0]:.4f},{v.iloc[1]:.4f},{v.iloc[2]:.4f},{labels[i]}\n")
    cfg = os.path.join(out, "backtest.yaml")
    epochs = 5 if args.quick else 20
    with open(cfg, "w") as f:
        f.write(f"""stream_confs:
  bench:
    window_size: 12
    ml_pipelines:
      p:
        metrics: [s1, s2, s3]
        numalogic_conf:
          model: {{name: VanillaAE, conf: {{seq_len: 12, n_features: 3}}}}
          preprocess: [{{name: StandardScaler}}]
          threshold: {{name: StdDevThreshold, conf: {{std_factor: 3}}}}
          score: {{adaptive: {{halflife: 1440}}}}
          trainer: {{min_train_size: 2880, train_hours: 48, retrain_freq_hr: 24, seed: 1, pltrainer_conf: {{max_epochs: {epochs}}}}}
""")
    aeflow = os.path.join(RELEASE, "aeflow")
    print(f"### Backtest: numalogic scoring vs adaptive mode\n")
    print(f"`aeflow backtest` on {rows} one-minute rows of 3 seasonal metrics (numalogic's SyntheticTSGenerator), "
          f"{int(labels.sum())} rows labelled anomalous in five injected episodes (global, contextual, collective; "
          "numalogic's AnomalyGenerator), and an unlabelled permanent +25 % level shift of s3 at 60 %. VanillaAE, "
          "StandardScaler, StdDevThreshold(3), TanhNorm; first training after 2 days, retraining daily on the last 48 h. "
          "Decision threshold: the score of an error exactly at the threshold (≈ 0.997).\n")
    print("| mode | precision | recall | F1 | PR AUC | trainings | wall time |")
    print("|---|---|---|---|---|---|---|")
    for mode in ("numalogic", "adaptive"):
        report = os.path.join(out, f"backtest-{mode}.json")
        t0 = time.perf_counter()
        subprocess.run([aeflow, "backtest", "--config", cfg, "--input", csv, "--mode", mode, "--label-column", "label",
                        "--output", os.path.join(out, f"backtest-{mode}.csv"), "--report", report],
                       check=True, capture_output=True, cwd=ROOT)
        secs = time.perf_counter() - t0
        r = json.load(open(report))
        print(f"| {mode} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['pr_auc']:.3f} | {r['trainings']} | {secs:.1f} s |")
    print()


def daemon(args):
    """The daemon under load (bench/LoadGen): offered rates, sustained throughput, latency, memory."""
    cmd = [os.path.join(RELEASE, "LoadGen")] + (["--quick", "--probe-seconds", "2"] if args.quick else [])
    lines = json_lines(cmd)
    rows = [r for r in lines if r["bench"] == "daemon"]
    print("### Daemon under load (bench/LoadGen, tcp loopback)\n")
    for g in (r for r in lines if r["bench"] == "machine_gaps"):
        print(f"Idle machine before the run: {g['gaps_over_1ms']} scheduling gaps over 1 ms in {g['seconds']:.0f} s of 50 µs sleeps "
              f"(worst {g['worst_gap_ms']:.1f} ms, {g['gap_time_ms']:.1f} ms in total).\n")
    print("| keys | offered points/s | sustained outputs/s | p50 | p99 | RSS (peak) | statuses |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        off = "max" if r["offered_per_s"] == 0 else f"{r['offered_per_s']:,}"
        st = ", ".join(f"{k} {v:,}" for k, v in sorted(r["statuses"].items()))
        print(f"| {r['keys']:,} | {off} | {r['scored_per_s']:,.0f} | {r['p50_us'] / 1000:.2f} ms | {r['p99_us'] / 1000:.2f} ms | "
              f"{r['rss_mb']:.0f} MB ({r['peak_rss_mb']:.0f} MB) | {st} |")
    print()


def loadgen_pair(args, flag):
    """LoadGen's rows for 10,000 keys at 50k, 100k and flat out: the daemon as configured, then with `flag`."""
    base = [os.path.join(RELEASE, "LoadGen"), "--keys", "10000", "--rates", "50000,100000,0", "--seconds", "2" if args.quick else "5",
            "--probe-seconds", "0"]
    return json_lines(base), json_lines(base + [flag])


def daemon_retrain(args):
    """The daemon with the retrain stage in process (serve --with-retrain): the same load, every point also
    written to the SQLite history; side by side with the daemon alone in the same run."""
    alone, with_retrain = loadgen_pair(args, "--with-retrain")
    print("### Daemon with the retrain stage in process (bench/LoadGen --with-retrain, 10,000 keys)\n")
    print("| offered points/s | outputs/s alone | outputs/s with history | p99 alone | p99 with history | history rows dropped | history caught up after | peak RSS alone / with |")
    print("|---|---|---|---|---|---|---|---|")
    for a, r in zip(alone, with_retrain):
        off = "max" if r["offered_per_s"] == 0 else f"{r['offered_per_s']:,}"
        print(f"| {off} | {a['scored_per_s']:,.0f} | {r['scored_per_s']:,.0f} | {a['p99_us'] / 1000:.2f} ms | {r['p99_us'] / 1000:.2f} ms | "
              f"{r['history_dropped_total']:,.0f} | {r['history_catch_up_s']:.1f} s | {a['peak_rss_mb']:.0f} / {r['peak_rss_mb']:.0f} MB |")
    print()


def curve(args):
    """The daemon with and without CURVE on its sockets (bench/LoadGen --curve), same load, same run."""
    plain, secure = loadgen_pair(args, "--curve")
    print("### Daemon with and without CURVE (bench/LoadGen --curve, 10,000 keys, tcp loopback)\n")
    print("| offered points/s | outputs/s plain | outputs/s CURVE | ratio | p50 plain | p50 CURVE | p99 plain | p99 CURVE |")
    print("|---|---|---|---|---|---|---|---|")
    for a, c in zip(plain, secure):
        off = "max" if c["offered_per_s"] == 0 else f"{c['offered_per_s']:,}"
        print(f"| {off} | {a['scored_per_s']:,.0f} | {c['scored_per_s']:,.0f} | {c['scored_per_s'] / a['scored_per_s']:.2f} | "
              f"{a['p50_us'] / 1000:.2f} ms | {c['p50_us'] / 1000:.2f} ms | {a['p99_us'] / 1000:.2f} ms | {c['p99_us'] / 1000:.2f} ms |")
    print()


def ceiling(args):
    """The transport's ceiling and floor beside the daemon: LoadGen's pipeline-wide rows against bench/Forwarder (libzmq's
    zmq_proxy returning each message unchanged: no decoding, scoring or encoding) and against `aeflow serve`,
    alternating in the same run, so both see the same machine phases."""
    rounds = 1 if args.quick else 3
    base = pipeline_loadgen(args, "100000,500000,0")
    rows = []
    for i in range(rounds):
        fwd, dmn = bench_rows(base + ["--forwarder"], "forwarder"), bench_rows(base)
        rows += [(i + 1, f, d) for f, d in zip(fwd, dmn)]
        print(f"\r{i + 1}/{rounds} rounds", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    cores = os.cpu_count()
    print("### The transport's ceiling: a plain ZeroMQ forwarder in the daemon's place (bench/LoadGen --forwarder, 10,000 keys)\n")
    print("| round | offered points/s | forwarder outputs/s | forwarder CPU µs/point | forwarder p99 | generator cores "
          "| daemon outputs/s | daemon CPU µs/point | daemon p99 | generator cores | daemon / forwarder |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for i, f, d in rows:
        off = "max" if f["offered_per_s"] == 0 else f"{f['offered_per_s']:,}"
        print(f"| {i} | {off} | {f['scored_per_s']:,.0f} | {f['daemon_cpu_us_per_point']:.2f} | {f['p99_us'] / 1000:.2f} ms | "
              f"{f['generator_cores']:.2f} | {d['scored_per_s']:,.0f} | {d['daemon_cpu_us_per_point']:.2f} | {d['p99_us'] / 1000:.2f} ms | "
              f"{d['generator_cores']:.2f} | "
              f"{d['scored_per_s'] / f['scored_per_s']:.2f} |")
    full = [f for _, f, _ in rows if f["offered_per_s"] == 500_000 and f["scored_per_s"] >= 0.995 * 500_000]
    if full:
        gen = sum(f["generator_cores"] for f in full) / len(full)
        print(f"\nWith every output of 500,000 points/s received, the generator took {gen:.2f} cores of {cores}: a stage sustaining "
              f"500,000 points/s beside it here has at most {(cores - gen) / 500_000 * 1e6:.2f} µs of CPU a point.")
    print()


BURNER = """
import sys, time
duty, end = float(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    t = time.perf_counter()
    while time.perf_counter() - t < 0.002 * duty:
        pass
    time.sleep(0.002 * (1 - duty))
"""


def contention(args):
    """What other load on the machine does to the 100k/s tail: the forwarder (no work) with a CPU burner beside it
    (a busy loop taking `duty` of every 2 ms: 0 to 0.75 of a core), and the daemon alone, alternating, so the daemon's
    own CPU at 100k/s can be read against the load that takes a no-work stage past 1 ms."""
    rounds = 1 if args.quick else 3
    base = pipeline_loadgen(args, "100000")
    duties = [0.0, 0.25, 0.5, 0.75]
    rows = {d: [] for d in duties}
    daemon_rows = []
    for i in range(rounds):
        for duty in duties:
            burner = subprocess.Popen([sys.executable, "-c", BURNER, str(duty), "600"]) if duty > 0 else None
            try:
                rows[duty] += bench_rows(base + ["--forwarder"], "forwarder")
            finally:
                if burner:
                    burner.kill()
                    burner.wait()
        daemon_rows += bench_rows(base)
        print(f"\r{i + 1}/{rounds} rounds", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print("### The 100k/s tail against other load on the machine (bench/LoadGen --forwarder beside a CPU burner, 10,000 keys)\n")
    print("| beside the forwarder | forwarder p50 | forwarder p99 (each round) | p99 under 1 ms |")
    print("|---|---|---|---|")
    def ms(rs, field):
        return " / ".join(f"{r[field] / 1000:.2f}" for r in rs)

    def line(label, rs):
        median = sorted(r["p50_us"] for r in rs)[len(rs) // 2] / 1000
        under = sum(r["p99_us"] < 1000 for r in rs)
        print(f"| {label} | {median:.2f} ms | {ms(rs, 'p99_us')} ms | {under} of {len(rs)} |")

    for duty in duties:
        line("nothing" if duty == 0 else f"a burner at {duty:.2f} of a core", rows[duty])
    cores = " / ".join(f"{r['daemon_cores']:.2f}" for r in daemon_rows)
    line(f"(the daemon in its place, nothing beside it: {cores} cores)", daemon_rows)
    print()


def tail(args):
    """The tail and the throughput this machine gives a stage of known cost: LoadGen against bench/Forwarder spending a
    fixed, calibrated X µs of CPU on each message (--forwarder-work-us; 0 is libzmq's zmq_proxy, no work) at 100k and
    300k points/s, and the daemon (pipeline-wide model, and a model per key for 100 keys) in the same rounds, so the
    daemon's p99 and throughput sit beside those of a stage spending the same CPU a point on the same machine."""
    rounds = 1 if args.quick else 3
    works = ["0", "1", "2", "4", "6"]
    base = pipeline_loadgen(args, "100000,300000")
    rows = []
    for i in range(rounds):
        for w in works:
            for r in bench_rows(base + ["--forwarder", "--forwarder-work-us", w], "forwarder"):
                rows.append((i + 1, f"forwarder, {w} µs of work a point", r))
        for r in bench_rows(base):
            rows.append((i + 1, "daemon, one pipeline-wide model", r))
        for r in bench_rows(base + ["--scope", "key", "--keys", "100"]):   # (the later --keys wins)
            rows.append((i + 1, "daemon, a model per key (100 keys)", r))
        print(f"\r{i + 1}/{rounds} rounds", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print("### The tail against the CPU a point: a forwarder doing fixed work beside the daemon (bench/LoadGen --forwarder-work-us)\n")
    print("| round | stage | offered points/s | outputs/s | stage CPU µs/point | p50 | p99 | generator cores |")
    print("|---|---|---|---|---|---|---|---|")
    for rate in (100_000, 300_000):
        for i, stage, r in rows:
            if r["offered_per_s"] != rate:
                continue
            print(f"| {i} | {stage} | {rate:,} | {r['scored_per_s']:,.0f} | {r['daemon_cpu_us_per_point']:.2f} | "
                  f"{r['p50_us'] / 1000:.2f} ms | {r['p99_us'] / 1000:.2f} ms | {r['generator_cores']:.2f} |")
    print()


def wakeups(row, thread):
    """A daemon thread's wake-ups a second in a LoadGen row (its `daemon_threads`), as text; "—" if not listed."""
    t = row.get("daemon_threads", {}).get(thread)
    return f"{t['wakeups_per_s'] / 1000:.1f}k" if t else "—"


def c_program(name, source, *flags):
    """Builds one of bench's C programs with the toolchain's clang into the release directory; returns its path."""
    exe = os.path.join(RELEASE, name)
    subprocess.run(["clang", "-O2", *flags, "-o", exe, os.path.join(ROOT, "bench", *source.split("/"))], check=True)
    return exe


def memory(args):
    """One core reading memory (bench/MemoryRead/membw.c, built here with the toolchain's clang) beside the per-key
    engine in process at 100 keys (every key's model in cache) and 10,000 keys (~60 MB of models: each window's
    weights come from memory): what a model per key costs against what memory allows."""
    m = json_lines([c_program("membw", "MemoryRead/membw.c", "-march=native")])[0]
    engine = {}
    for keys in ["100", "10000"]:
        r = bench_rows([os.path.join(RELEASE, "LoadGen"), "--engine", "--scope", "key", "--keys", keys, "--seconds", "3",
                        "--probe-seconds", "0"], bench="engine")[0]
        engine[keys] = r["process_ns_per_point"]
    print("### One core reading memory, beside a model per key (bench/MemoryRead/membw.c, LoadGen --engine --scope key)\n")
    print("| what | ns |")
    print("|---|---|")
    print(f"| 6 KiB read in order from a 512 MiB array ({m['sequential_gb_per_s']:.1f} GB/s) | {m['sequential_ns_per_block']:.0f} |")
    print(f"| 6 KiB blocks read in a shuffled order, no software prefetch ({m['shuffled_blocks_gb_per_s']:.1f} GB/s) | {m['shuffled_ns_per_block']:.0f} |")
    print(f"| scoring engine a point, a model per key, 100 keys (models in cache) | {engine['100']:.0f} |")
    print(f"| scoring engine a point, a model per key, 10,000 keys (models from memory) | {engine['10000']:.0f} |")
    print(f"| difference: a key's model, window and state from memory | {engine['10000'] - engine['100']:.0f} |")
    print()


def wakeup(args):
    """What waking a thread costs here (bench/WakeUp/wakeup.c, built with the toolchain's clang): two threads handing a
    token through eventfds (libzmq's mailboxes), after 200 µs asleep and back to back; a system call for scale. At
    moderate rates a stage's CPU a point beyond its work is mostly such wake-ups (BENCHMARKS P21–P22)."""
    exe = c_program("wakeup", "WakeUp/wakeup.c", "-pthread")
    runs = [json_lines([exe])[0] for _ in range(1 if args.quick else 3)]
    print("### Waking a thread (bench/WakeUp/wakeup.c: two threads, two eventfds, no pinning; one column a run)\n")
    print("| what | " + " | ".join(f"run {i + 1}" for i in range(len(runs))) + " |")
    print("|---|" + "---|" * len(runs))
    rows = [("round trip after 200 µs asleep, p50 / p99 (µs)", lambda r: f"{r['idle_round_trip_p50_us']:.1f} / {r['idle_round_trip_p99_us']:.1f}"),
            ("CPU a wake-up after 200 µs asleep (µs, both threads, user + kernel)", lambda r: f"{r['idle_cpu_us_per_wakeup']:.1f}"),
            ("round trip back to back, p50 / p99 (µs)", lambda r: f"{r['busy_round_trip_p50_us']:.1f} / {r['busy_round_trip_p99_us']:.1f}"),
            ("CPU a wake-up back to back (µs)", lambda r: f"{r['busy_cpu_us_per_wakeup']:.1f}"),
            ("a system call (getppid, ns)", lambda r: f"{r['syscall_ns']:.0f}")]
    for name, cell in rows:
        print(f"| {name} | " + " | ".join(cell(r) for r in runs) + " |")
    print()


def per_key(args):
    """A model per key (LoadGen --scope key): the daemon scoring through the compiled plans on one scoring worker
    per core (the default) and on one worker, then with AEFLOW_INFERENCE=autograd (the engine); each in its own
    LoadGen run. Then numalogic's per-key inference in process (bench/numalogic_per_key.py) for the ratio."""
    seconds = "2" if args.quick else "3"
    print("### Per-key models (bench/LoadGen --scope key, VanillaAE(12, 3) per key, tcp loopback)\n")
    print("| keys | offered points/s | inference | workers | sustained outputs/s | daemon CPU µs/point | daemon switches/point "
          "| wake-ups/s: input, I/O thread | p50 | p99 | RSS | statuses |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    best = {}
    for keys in ["100", "10000"]:
        for label, env, workers in (("compiled plans", {}, "0"), ("compiled plans", {}, "1"),
                                    ("autograd engine", {"AEFLOW_INFERENCE": "autograd"}, "0")):
            cmd = [os.path.join(RELEASE, "LoadGen"), "--scope", "key", "--keys", keys, "--rates", "100000,200000,300000,0",
                   "--seconds", seconds, "--probe-seconds", "0", "--workers", workers]
            for r in bench_rows(cmd, env=env):
                off = "max" if r["offered_per_s"] == 0 else f"{r['offered_per_s']:,}"
                st = ", ".join(f"{k} {v:,}" for k, v in sorted(r["statuses"].items()))
                missing = f", {r['missing_outputs']:,} missing" if "missing_outputs" in r else ""
                shown = f"{os.cpu_count()} (one per core)" if workers == "0" else workers
                print(f"| {r['keys']:,} | {off} | {label} | {shown} | {r['scored_per_s']:,.0f} | {r['daemon_cpu_us_per_point']:.1f} | {r['daemon_switches_per_point']:.2f} | "
                      f"{wakeups(r, 'ingest')}, {wakeups(r, 'ZMQbg/IO/0')} | {r['p50_us'] / 1000:.2f} ms | {r['p99_us'] / 1000:.2f} ms | {r['rss_mb']:.0f} MB | {st}{missing} |")
                if label == "compiled plans" and workers == "0":
                    best[keys] = max(best.get(keys, 0), r["scored_per_s"])
    print()
    print("numalogic's per-key inference in process (bench/numalogic_per_key.py: batch of one per key under "
          "torch.no_grad, no transport; one process = one core):\n")
    print("| keys | numalogic points/s | µs per point | AEFlow daemon best sustained (above) | ratio |")
    print("|---|---|---|---|---|")
    for keys in ["100", "10000"]:
        points = "5000" if args.quick else "20000"
        for r in json_lines([sys.executable, os.path.join(ROOT, "bench", "numalogic_per_key.py"), "--keys", keys, "--points", points]):
            ours = best.get(keys, 0)
            print(f"| {int(keys):,} | {r['points_per_s']:,.0f} | {r['us_per_point']:.0f} | {ours:,.0f} | "
                  f"{ours / r['points_per_s']:.0f}× |")
    print()


def worker(args):
    """The scoring worker alone (LoadGen --engine: one ScoringEngine in the generator's process over the same store and
    configuration as the daemon rows, pre-decoded batches of 256 points): CPU ns a point of ScoringEngine.process and
    of the decode. Three runs of each row (one with --quick); with --baseline DIR (another build's .build/release) the
    two builds run in alternation and the change of the medians is printed. The daemon rows move by ±10 % on shared
    cores; this one by a few percent, so it is the instrument for comparing two builds."""
    import statistics
    runs = 1 if args.quick else 3
    builds = ([("baseline", args.baseline)] if args.baseline else []) + [("this build", RELEASE)]
    rows = [("key", "100"), ("key", "10000"), ("pipeline", "10000")]
    got = {}
    for _ in range(runs):
        for name, directory in builds:
            for scope, keys in (("key", "100,10000"), ("pipeline", "10000")):
                cmd = [os.path.join(directory, "LoadGen"), "--engine", "--keys", keys, "--scope", scope, "--probe-seconds", "0"]
                for r in bench_rows(cmd, "engine"):
                    got.setdefault((name, r["scope"], str(r["keys"])), []).append(r)
    print("### The scoring worker alone (bench/LoadGen --engine, VanillaAE(12, 3), batches of 256 points)\n")
    head = "| scope | keys | process ns/point (runs) | median | decode ns/point (median) |"
    if args.baseline:
        head += " baseline process ns/point (runs) | baseline median | change | baseline decode (median) | decode change |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for scope, keys in rows:
        mine = got.get(("this build", scope, keys), [])
        if not mine:
            continue
        runs_text = " / ".join(f"{r['process_ns_per_point']:,.0f}" for r in mine)
        med = statistics.median(r["process_ns_per_point"] for r in mine)
        dec = statistics.median(r["decode_ns_per_point"] for r in mine)
        line = f"| {scope} | {int(keys):,} | {runs_text} | {med:,.0f} | {dec:,.0f} |"
        if args.baseline:
            base = got.get(("baseline", scope, keys), [])
            bmed = statistics.median(r["process_ns_per_point"] for r in base)
            base_text = " / ".join(f"{r['process_ns_per_point']:,.0f}" for r in base)
            bdec = statistics.median(r["decode_ns_per_point"] for r in base)
            line += f" {base_text} | {bmed:,.0f} | {100 * (med - bmed) / bmed:+.0f} % | {bdec:,.0f} | {100 * (dec - bdec) / bdec:+.0f} % |"
        print(line)
    print()


def alternate(args):
    """Two daemons, one LoadGen: the rows of `--loadgen` (default: pipeline-wide, 10,000 keys, 100k/s) with the
    baseline's `aeflow` (--baseline DIR, another build's .build/release) and this build's in turn, `--rounds` times,
    so both see the same machine phases (the daemon rows swing by 10-15 % from minute to minute on shared cores)."""
    import shutil
    import statistics
    import tempfile
    if not args.baseline:
        sys.exit("alternate: --baseline DIR (another build's .build/release) is required")
    rounds = 1 if args.quick else args.rounds
    cmd = args.loadgen.split()
    got = {"baseline": [], "this build": []}
    with tempfile.TemporaryDirectory(prefix="aeflow-alternate-") as tmp:
        runners = {}
        for name, directory in (("baseline", args.baseline), ("this build", RELEASE)):
            # LoadGen starts the `aeflow` in its own directory: one directory per build, the same LoadGen in both.
            d = os.path.join(tmp, name.replace(" ", "-"))
            os.mkdir(d)
            shutil.copy(os.path.join(RELEASE, "LoadGen"), d)
            os.symlink(os.path.abspath(os.path.join(directory, "aeflow")), os.path.join(d, "aeflow"))
            runners[name] = os.path.join(d, "LoadGen")
        for i in range(rounds):
            for name in ("baseline", "this build"):
                got[name] += bench_rows([runners[name]] + cmd)
            print(f"\r{i + 1}/{rounds} rounds", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print(f"### Two builds alternating (bench/LoadGen {args.loadgen}; baseline {args.baseline})\n")
    print("| daemon | offered points/s | sustained outputs/s (min) | CPU µs/point (each round) | median | switches/point | p50 (median) "
          "| p99 (each round) | p99 under 1 ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in ("baseline", "this build"):
        for offered in sorted({r["offered_per_s"] for r in got[name]}, key=lambda o: o or 1e12):
            rs = [r for r in got[name] if r["offered_per_s"] == offered]
            cpu = [r["daemon_cpu_us_per_point"] for r in rs]
            sw = [r["daemon_switches_per_point"] for r in rs]
            p99 = [r["p99_us"] / 1000 for r in rs]
            print(f"| {name} | {'max' if offered == 0 else f'{offered:,}'} | {min(r['scored_per_s'] for r in rs):,.0f} | "
                  f"{' / '.join(f'{c:.2f}' for c in cpu)} | {statistics.median(cpu):.2f} | {min(sw):.2f}–{max(sw):.2f} | "
                  f"{statistics.median(r['p50_us'] for r in rs) / 1000:.2f} ms | {' / '.join(f'{p:.2f}' for p in p99)} ms | "
                  f"{sum(p < 1 for p in p99)} of {len(rs)} |")
    print()


def listening_port(pid, timeout=30):
    """The TCP port process `pid` listens on (its only listening socket), from /proc."""
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        for table in (f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A" and fields[9] in inodes:
                        return int(fields[1].split(":")[1], 16)
        time.sleep(0.05)
    raise RuntimeError(f"process {pid} does not listen")


def remote_write(args):
    """Scores written back by remote write (LoadGen --remote-write) to a VictoriaMetrics started here (Debian's
    victoria-metrics; LoadGen's timestamps are years old, which it keeps with a long retention), against the same
    load without write-back, in one run: 100 and 10,000 keys with a model each, 100k points/s and flat out."""
    import shutil
    import tempfile
    import urllib.request
    data = tempfile.mkdtemp(prefix="aeflow-bench-vm-")
    vm = subprocess.Popen(["victoria-metrics", f"-storageDataPath={data}", "-httpListenAddr=127.0.0.1:0", "-retentionPeriod=100y",
                           "-loggerLevel=ERROR"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = listening_port(vm.pid)
        url = f"http://127.0.0.1:{port}/api/v1/write"
        seconds = "2" if args.quick else "3"
        print("### Scores written back by remote write (bench/LoadGen --remote-write, VictoriaMetrics on loopback, a model per key)\n")
        print("Each scored point is 5 samples here (score, is_anomaly, 3 metric scores). Samples/s counts from the row's start until "
              "the writer's queue is empty again; samples and drops count the row's warm-up second too.\n")
        print("| keys | offered points/s | outputs/s off | outputs/s on | ratio | p99 off | p99 on | samples written | samples/s | dropped (queue full) | queue drained after |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for keys in ["100", "10000"]:
            base = [os.path.join(RELEASE, "LoadGen"), "--scope", "key", "--keys", keys, "--rates", "100000,0", "--seconds", seconds,
                    "--probe-seconds", "0"]
            off = bench_rows(base)
            on = bench_rows(base + ["--remote-write", url])
            for a, r in zip(off, on):
                rate = "max" if r["offered_per_s"] == 0 else f"{r['offered_per_s']:,}"
                print(f"| {int(keys):,} | {rate} | {a['scored_per_s']:,.0f} | {r['scored_per_s']:,.0f} | {r['scored_per_s'] / a['scored_per_s']:.2f} | "
                      f"{a['p99_us'] / 1000:.2f} ms | {r['p99_us'] / 1000:.2f} ms | {r['remote_write_samples']:,.0f} | "
                      f"{r['remote_write_samples_per_s']:,.0f} | {r['remote_write_dropped_total']['queue_full']:,.0f} | {r['remote_write_drain_s']:.1f} s |")
        urllib.request.urlopen(f"http://127.0.0.1:{port}/internal/force_flush").read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/series/count") as f:
            answer = json.load(f)
        print(f"\nSeries in the store afterwards: {answer['data'][0]:,} (5 per key; the two runs' keys are k0…k9999: 50,000 expected).\n")
    finally:
        vm.terminate()
        vm.wait()
        shutil.rmtree(data, ignore_errors=True)


SUITES = {"per-key": per_key, "memory": memory, "wakeup": wakeup, "ceiling": ceiling, "tail": tail, "contention": contention, "alternate": alternate, "worker": worker, "remote-write": remote_write, "engine": engine, "models": models, "backtest": backtest, "daemon": daemon, "daemon-retrain": daemon_retrain, "curve": curve}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suites", nargs="*", default=[s for s in SUITES if s != "alternate"],
                    help=f"suites to run: {', '.join(SUITES)} (all but alternate, which needs --baseline, by default)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    ap.add_argument("--baseline", help="worker and alternate suites: another build's .build/release directory, run in alternation")
    ap.add_argument("--rounds", type=int, default=6, help="alternate suite: rounds of the two builds")
    ap.add_argument("--loadgen", default="--keys 10000 --rates 100000 --seconds 3 --probe-seconds 0",
                    help="alternate suite: LoadGen's arguments for each row set")
    args = ap.parse_args()
    print(f"Machine: {cpu_name()}, {os.cpu_count()} cores; command: bench/run.py {' '.join(sys.argv[1:])}\n")
    for s in args.suites:
        if s not in SUITES:
            sys.exit(f"unknown suite {s!r}; known: {', '.join(SUITES)}")
        SUITES[s](args)


if __name__ == "__main__":
    main()
