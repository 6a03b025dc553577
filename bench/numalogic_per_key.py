"""numalogic's per-key inference, in process, for the per-key LoadGen rows' ratio: one VanillaAE(seq_len 12,
3 features) per key (numalogic's default model scope), each point appended to its key's window and, once the
window is full, scored the way numalogic's inference UDF scores a window: the key's fitted StandardScaler
(sklearn, as numalogic's preprocess), the model's forward pass on a batch of one under torch.no_grad, the
element-wise squared error, the key's StdDevThreshold.score_samples, TanhNorm, the window mean. No transport,
no JSON and no registry lookups are timed (they would only add to numalogic's cost), so this is an upper bound
on what numalogic's per-key scoring can do on this machine. JSON lines out.

    .venv/bin/python bench/numalogic_per_key.py --keys 100 --points 20000
"""
import argparse
import collections
import json
import logging
import time
import warnings

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=100)
    ap.add_argument("--points", type=int, default=20000, help="points timed (after every key's window is full)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    from numalogic.models.autoencoder.variants import VanillaAE
    from numalogic.models.threshold import StdDevThreshold
    from numalogic.transforms import TanhNorm
    from sklearn.preprocessing import StandardScaler

    seq_len, features = 12, 3
    rng = np.random.default_rng(3)
    history = rng.normal(size=(240, features)).astype(np.float32)
    keys = []
    for k in range(args.keys):
        torch.manual_seed(k)
        model = VanillaAE(seq_len=seq_len, n_features=features)
        model.eval()
        scaler = StandardScaler().fit(history)
        threshold = StdDevThreshold().fit(np.abs(rng.normal(size=(240, features))).astype(np.float32))
        keys.append((model, scaler, threshold, collections.deque(maxlen=seq_len)))
    post = TanhNorm()

    def point(k, row):
        model, scaler, threshold, window = keys[k]
        window.append(row)
        if len(window) < seq_len:
            return None
        x = scaler.transform(np.asarray(window, dtype=np.float32))
        with torch.no_grad():
            xt = torch.from_numpy(x.astype(np.float32)).unsqueeze(0)
            _, recon = model.forward(xt)
            err = torch.nn.functional.mse_loss(recon, xt, reduction="none").squeeze(0).numpy()
        return float(np.mean(post.transform(threshold.score_samples(err))))

    rows = rng.normal(size=(seq_len * args.keys + args.points, features)).astype(np.float32)
    i = 0
    for _ in range(seq_len):                      # warm-up: every key's window full
        for k in range(args.keys):
            point(k, rows[i])
            i += 1
    scored = 0
    t0 = time.perf_counter()
    for n in range(args.points):
        if point(n % args.keys, rows[i]) is not None:
            scored += 1
        i += 1
    seconds = time.perf_counter() - t0
    print(json.dumps({"bench": "numalogic_per_key", "keys": args.keys, "points": args.points, "scored": scored,
                      "points_per_s": args.points / seconds, "us_per_point": seconds / args.points * 1e6,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
