"""numalogic's side of the model benchmark: the same measurements as bench/ModelBench, JSON lines.

    .venv/bin/python bench/numalogic_models.py --data F.safetensors --configs bench/model_configs.json [--epochs 10] ...
"""
import argparse
import json
import logging
import time
import warnings

import torch
from safetensors.torch import load_file


def median(iterations, body, repeats=7):
    for _ in range(max(1, iterations // 4)):
        body()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iterations):
            body()
        samples.append((time.perf_counter() - t0) / iterations)
    return sorted(samples)[repeats // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--configs", default="bench/model_configs.json")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    import numalogic.models.autoencoder.variants as V
    import numalogic.models.vae.variants as VAE
    from numalogic.tools.data import StreamingDataset
    from numalogic.tools.trainer import TimeseriesTrainer
    from torch.utils.data import DataLoader

    train = load_file(args.data)["train"].numpy()
    configs = json.load(open(args.configs))
    for name, conf in configs.items():
        torch.manual_seed(1)
        model = (getattr(V, name, None) or getattr(VAE, name))(**conf)
        ds = StreamingDataset(train, conf["seq_len"])
        loader = DataLoader(ds, batch_size=args.batch)
        trainer = TimeseriesTrainer(max_epochs=args.epochs, enable_progress_bar=False, logger=False, accelerator="cpu",
                                    enable_model_summary=False)
        t0 = time.perf_counter()
        trainer.fit(model, train_dataloaders=loader)
        train_seconds = time.perf_counter() - t0
        model.eval()
        windows = ds.as_tensor()
        one = windows[:1]
        big = windows[torch.arange(4096) % len(windows)]
        seq, feat = conf["seq_len"], windows.shape[2]

        def errors(x):
            with torch.no_grad():
                if name == "TransformerAE":  # numalogic's predict_step for it (its inference stage cannot run it)
                    recon = model.reconstruction(x).view(-1, seq, feat)
                    return model.criterion(x, recon, reduction="none")
                return model.predict_step(x, 0)

        single = median(500 if name == "TransformerAE" else 2000, lambda: errors(one))  # Conv1dVAE: numalogic samples z
        per_batch = median(1 if name == "TransformerAE" else 3, lambda: errors(big), repeats=5)
        print(json.dumps({"bench": "model", "model": name, "windows": len(ds), "epochs": args.epochs, "batch": args.batch,
                          "threads": args.threads, "train_seconds": train_seconds, "single_window_us": single * 1e6,
                          "batch4096_windows_per_s": 4096 / per_batch}), flush=True)


if __name__ == "__main__":
    main()
