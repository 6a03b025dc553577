#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures under Tests/Fixtures (small safetensors files, committed).

Run from the repository root inside the ignored virtualenv:

    python3 -m venv .venv && .venv/bin/pip install torch safetensors numpy numalogic pytorch-lightning
    .venv/bin/python Scripts/generate_fixtures.py [--only nn,optim,models]

The "models" group uses numalogic itself (pip package numalogic 0.13.x) for model weights and outputs.

Every fixture is made with a fixed seed. Naming inside a file:
  input.<name>         inputs of the forward pass
  param.<key>          the module's state_dict entries before the forward pass (PyTorch names)
  output.<name>        forward outputs (the first, or only, one is "output.y")
  seed.<name>          upstream gradient for each output; the objective is sum_k sum(output_k * seed_k)
  grad.input.<name>    gradient of the objective for each input
  grad.param.<key>     gradient of the objective for each parameter
  after.<key>          state_dict entries after the forward pass (BatchNorm running statistics)
Metadata "config" (JSON) holds the constructor arguments; "mode" is train or eval.
"""
import argparse
import importlib.metadata
import json
import math
import os
import time
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures")


def write(rel, tensors, config, mode="train"):
    path = os.path.join(ROOT, rel + ".safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    clean = {k: v.detach().contiguous().clone() for k, v in tensors.items()}
    save_file(clean, path, metadata={"config": json.dumps(config, sort_keys=True), "mode": mode,
                                      "torch": torch.__version__})
    print(f"wrote {os.path.relpath(path)} ({len(clean)} tensors)")


def run_module(rel, module, inputs, config, mode="train", call=None):
    """Forward `module` on `inputs` (dict name -> tensor), backprop random seeds, write everything."""
    module.train(mode == "train")
    params = {k: v.detach().clone() for k, v in module.state_dict().items()}
    xs = {k: v.clone().requires_grad_(v.is_floating_point()) for k, v in inputs.items()}
    out = call(module, xs) if call else module(*xs.values())
    outs = out if isinstance(out, dict) else {"y": out}
    seeds = {k: torch.randn_like(v) for k, v in outs.items()}
    objective = sum((v * seeds[k]).sum() for k, v in outs.items())
    objective.backward()
    t = {f"input.{k}": v for k, v in inputs.items()}
    t.update({f"param.{k}": v for k, v in params.items()})
    t.update({f"output.{k}": v for k, v in outs.items()})
    t.update({f"seed.{k}": v for k, v in seeds.items()})
    t.update({f"grad.input.{k}": v.grad for k, v in xs.items() if v.grad is not None})
    for k, p in module.named_parameters():
        if p.grad is not None:
            t[f"grad.param.{k}"] = p.grad
    if any(b is not None for b in module.buffers()):
        t.update({f"after.{k}": v for k, v in module.state_dict().items()})
    write(rel, t, config, mode)


def nn_fixtures():
    torch.manual_seed(1)
    run_module("nn/linear", nn.Linear(5, 4), {"x": torch.randn(3, 5)}, {"in": 5, "out": 4, "bias": True})
    run_module("nn/linear_3d", nn.Linear(5, 4), {"x": torch.randn(2, 3, 5)}, {"in": 5, "out": 4, "bias": True})
    run_module("nn/linear_nobias", nn.Linear(6, 2, bias=False), {"x": torch.randn(4, 6)}, {"in": 6, "out": 2, "bias": False})

    for name, cfg, length in [
        ("conv1d_same", dict(in_channels=3, out_channels=4, kernel_size=3, stride=1, padding=1, dilation=1), 10),
        ("conv1d_strided", dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1, dilation=2), 11),
        ("conv1d_nobias", dict(in_channels=2, out_channels=3, kernel_size=2, stride=1, padding=0, dilation=1, bias=False), 7),
    ]:
        torch.manual_seed(2)
        run_module(f"nn/{name}", nn.Conv1d(**cfg), {"x": torch.randn(2, cfg["in_channels"], length)}, cfg)

    for name, cfg, length in [
        ("convtranspose1d_same", dict(in_channels=4, out_channels=3, kernel_size=3, stride=1, padding=1), 6),
        ("convtranspose1d_strided", dict(in_channels=4, out_channels=3, kernel_size=3, stride=2, padding=1, output_padding=1), 6),
        ("convtranspose1d_dilated", dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=0, output_padding=1, dilation=2), 5),
    ]:
        torch.manual_seed(3)
        run_module(f"nn/{name}", nn.ConvTranspose1d(**cfg), {"x": torch.randn(2, cfg["in_channels"], length)}, cfg)

    torch.manual_seed(4)
    run_module("nn/maxpool1d", nn.MaxPool1d(2), {"x": torch.randn(2, 3, 10)}, {"kernel_size": 2, "stride": 2, "padding": 0})
    run_module("nn/maxpool1d_padded", nn.MaxPool1d(3, stride=2, padding=1), {"x": torch.randn(2, 3, 11)},
               {"kernel_size": 3, "stride": 2, "padding": 1})
    run_module("nn/upsample_x2", nn.Upsample(scale_factor=2, mode="linear", align_corners=False),
               {"x": torch.randn(2, 3, 5)}, {"scale_factor": 2})
    run_module("nn/upsample_x3", nn.Upsample(scale_factor=3, mode="linear", align_corners=False),
               {"x": torch.randn(1, 2, 4)}, {"scale_factor": 3})

    torch.manual_seed(5)
    bn = nn.BatchNorm1d(4)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5); bn.bias.uniform_(-0.5, 0.5)
    run_module("nn/batchnorm1d_2d_train", bn, {"x": torch.randn(8, 4) * 2 + 1}, {"num_features": 4})
    bn = nn.BatchNorm1d(3)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5); bn.bias.uniform_(-0.5, 0.5)
    run_module("nn/batchnorm1d_3d_train", bn, {"x": torch.randn(4, 3, 6) * 2 - 1}, {"num_features": 3})
    bn = nn.BatchNorm1d(3)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5); bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-1, 1); bn.running_var.uniform_(0.5, 2.0); bn.num_batches_tracked.fill_(7)
    run_module("nn/batchnorm1d_3d_eval", bn, {"x": torch.randn(4, 3, 6)}, {"num_features": 3}, mode="eval")

    torch.manual_seed(6)
    ln = nn.LayerNorm(6)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5); ln.bias.uniform_(-0.5, 0.5)
    run_module("nn/layernorm", ln, {"x": torch.randn(2, 3, 6) * 3}, {"normalized_shape": [6]})
    ln = nn.LayerNorm([3, 6])
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5); ln.bias.uniform_(-0.5, 0.5)
    run_module("nn/layernorm_2d", ln, {"x": torch.randn(2, 3, 6)}, {"normalized_shape": [3, 6]})

    torch.manual_seed(7)
    run_module("nn/dropout", nn.Dropout(0.3), {"x": torch.randn(6, 5) + 3}, {"p": 0.3})

    torch.manual_seed(8)
    lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True)

    def lstm_call(m, xs):
        out, (h, c) = m(xs["x"])
        return {"y": out, "h": h, "c": c}

    run_module("nn/lstm", lstm, {"x": torch.randn(2, 5, 3)}, {"input_size": 3, "hidden_size": 4, "num_layers": 2},
               call=lstm_call)

    torch.manual_seed(9)
    run_module("nn/attention", AttentionReference(num_heads=2, dim_in=6, dim_q=3, dim_k=3),
               {"q": torch.randn(2, 4, 6), "k": torch.randn(2, 5, 6), "v": torch.randn(2, 5, 6)},
               {"num_heads": 2, "dim_in": 6, "dim_q": 3, "dim_k": 3})

    torch.manual_seed(10)
    seq = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 12), nn.Unflatten(1, (3, 4)))
    run_module("nn/sequential", seq, {"x": torch.randn(5, 3, 4)}, {"layers": "Flatten,Linear(12,8),Tanh,Linear(8,12),Unflatten(1,(3,4))"})

    torch.manual_seed(11)
    x = torch.randn(3, 4, 5) * 3
    x[0, 0, :3] = torch.tensor([25.0, -30.0, 21.0])  # softplus threshold region
    for name, mod in [("relu", nn.ReLU()), ("tanh", nn.Tanh()), ("sigmoid", nn.Sigmoid()), ("softplus", nn.Softplus()),
                      ("softmax_last", nn.Softmax(dim=-1)), ("softmax_mid", nn.Softmax(dim=1)),
                      ("logsoftmax_last", nn.LogSoftmax(dim=-1)), ("logsoftmax_first", nn.LogSoftmax(dim=0))]:
        run_module(f"nn/act_{name}", mod, {"x": x.clone()}, {"activation": name})

    torch.manual_seed(12)
    inp = torch.randn(3, 4) * 2
    tgt = torch.randn(3, 4)
    losses = {
        "huber": lambda a, b, r: F.huber_loss(a, b, reduction=r, delta=1.0),
        "l1": lambda a, b, r: F.l1_loss(a, b, reduction=r),
        "mse": lambda a, b, r: F.mse_loss(a, b, reduction=r),
        "halfmse": lambda a, b, r: 0.5 * F.mse_loss(a, b, reduction=r),  # numalogic's l2_loss
    }
    for lname, fn in losses.items():
        for red in ["mean", "sum", "none"]:
            a = inp.clone().requires_grad_(True)
            b = tgt.clone().requires_grad_(True)
            y = fn(a, b, red)
            seed = torch.randn_like(y)
            (y * seed).sum().backward()
            write(f"nn/loss_{lname}_{red}", {"input.input": inp, "input.target": tgt, "output.y": y, "seed.y": seed,
                                             "grad.input.input": a.grad, "grad.input.target": b.grad},
                  {"loss": lname, "reduction": red})


class AttentionHeadReference(nn.Module):
    """Same structure and names as numalogic's _AttentionHead, written with torch primitives."""

    def __init__(self, dim_in, dim_q, dim_k):
        super().__init__()
        self.query = nn.Linear(dim_in, dim_q)
        self.key = nn.Linear(dim_in, dim_k)
        self.value = nn.Linear(dim_in, dim_k)

    def forward(self, q, k, v):
        q, k, v = self.query(q), self.key(k), self.value(v)
        a = torch.softmax(q.bmm(k.transpose(1, 2)) / q.size(-1) ** 0.5, dim=-1)
        return a.bmm(v)


class AttentionReference(nn.Module):
    def __init__(self, num_heads, dim_in, dim_q, dim_k):
        super().__init__()
        self.heads = nn.ModuleList([AttentionHeadReference(dim_in, dim_q, dim_k) for _ in range(num_heads)])
        self.linear = nn.Linear(num_heads * dim_k, dim_in)

    def forward(self, q, k, v):
        return self.linear(torch.cat([h(q, k, v) for h in self.heads], dim=-1))


def optim_fixtures():
    cases = {
        "adam_default": (torch.optim.Adam, {}),
        "adam_wd": (torch.optim.Adam, {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
        "adagrad_default": (torch.optim.Adagrad, {}),
        "adagrad_wd": (torch.optim.Adagrad, {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1}),
        "rmsprop_default": (torch.optim.RMSprop, {}),
        "rmsprop_centered": (torch.optim.RMSprop, {"lr": 0.02, "alpha": 0.9, "weight_decay": 0.05, "momentum": 0.9, "centered": True}),
    }
    for name, (cls, kw) in cases.items():
        torch.manual_seed(20)
        params = [torch.randn(3, 4).requires_grad_(True), torch.randn(4).requires_grad_(True)]
        t = {f"initial.{i}": p.detach().clone() for i, p in enumerate(params)}
        opt = cls(params, **kw)
        for step in range(3):
            opt.zero_grad()
            grads = [torch.randn_like(p) * (step + 1) for p in params]
            for p, g in zip(params, grads):
                p.grad = g.clone()
            opt.step()
            for i, (p, g) in enumerate(zip(params, grads)):
                t[f"grad.{step}.{i}"] = g
                t[f"after.{step}.{i}"] = p.detach().clone()
        cfg = {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()}
        cfg["optimizer"] = cls.__name__
        write(f"optim/{name}", t, cfg)


# --- numalogic models -------------------------------------------------------------------------------

MODEL_CASES = {
    # name: (parity conf, second listing conf)
    "VanillaAE": ({"seq_len": 12, "n_features": 3},
                  {"seq_len": 20, "n_features": 2, "encoder_layersizes": [32, 16, 4], "decoder_layersizes": [4, 16, 32], "batchnorm": True}),
    "SparseVanillaAE": ({"seq_len": 12, "n_features": 3},
                        {"seq_len": 10, "n_features": 1, "encoder_layersizes": [8, 4], "decoder_layersizes": [4, 8], "batchnorm": False}),
    "MultichannelAE": ({"seq_len": 12, "n_channels": 3},
                       {"seq_len": 8, "n_channels": 2, "encoder_layersizes": [6, 3], "decoder_layersizes": [3, 6], "batchnorm": True}),
    "VanillaICAE": ({"seq_len": 12, "n_channels": 3, "batchnorm": True},
                    {"seq_len": 16, "n_channels": 2, "encoder_layersizes": [12, 6, 3], "decoder_layersizes": [3, 6]}),
    "Conv1dAE": ({"seq_len": 12, "in_channels": 3},
                 {"seq_len": 16, "in_channels": 2, "enc_channels": [8, 8, 4], "enc_kernel_sizes": 3, "dec_activation": "tanh"}),
    "SparseConv1dAE": ({"seq_len": 12, "in_channels": 3},
                       {"seq_len": 8, "in_channels": 1, "enc_channels": [4, 2], "enc_kernel_sizes": [3, 3], "dec_activation": "sigmoid"}),
    "LSTMAE": ({"seq_len": 12, "no_features": 3, "embedding_dim": 4},
               {"seq_len": 10, "no_features": 2, "embedding_dim": 6, "encoder_layers": 2, "decoder_layers": 3}),
    "SparseLSTMAE": ({"seq_len": 12, "no_features": 3, "embedding_dim": 4},
                     {"seq_len": 6, "no_features": 1, "embedding_dim": 3, "encoder_layers": 2}),
    "TransformerAE": ({"seq_len": 12, "n_features": 3, "num_encoder_layers": 1, "num_decoder_layers": 1, "num_heads": 2, "dim_feedforward": 8},
                      {"seq_len": 12, "n_features": 3}),
    "SparseTransformerAE": ({"seq_len": 8, "n_features": 2, "num_encoder_layers": 2, "num_decoder_layers": 1, "num_heads": 3, "dim_feedforward": 16},
                            {"seq_len": 12, "n_features": 4, "num_heads": 4, "dim_feedforward": 32}),
    "Conv1dVAE": ({"seq_len": 12, "n_features": 3, "latent_dim": 4},
                  {"seq_len": 20, "n_features": 2, "latent_dim": 6, "conv_channels": [16, 8]}),
}


def numalogic_model(name, conf):
    import numalogic.models.autoencoder.variants as V
    from numalogic.models.vae.variants import Conv1dVAE
    cls = Conv1dVAE if name == "Conv1dVAE" else getattr(V, name)
    return cls(**conf)


def randomize_state(model):
    """Non-trivial BatchNorm statistics and affine parameters, so evaluation mode is really exercised."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.num_batches_tracked.fill_(11)
            if isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.7, 1.3)
                m.bias.uniform_(-0.2, 0.2)


def sinusoidal(tokens, width):
    pe = torch.zeros(tokens, width)
    for pos in range(tokens):
        for l in range(width):
            angle = pos / (10000 ** ((2 * (l // 2)) / width))
            pe[pos, l] = math.sin(angle) if l % 2 == 0 else math.cos(angle)
    return pe


def corrected_transformer_forward(model, x):
    """AEFlow's corrected TransformerAE forward (ARCHITECTURE.md section 2) on numalogic's own layers."""
    tokens = x.transpose(1, 2)
    pe = sinusoidal(tokens.size(1), tokens.size(2))
    memory = tokens + pe
    for layer in model.encoder.layers:
        memory = layer(memory)
    t = tokens + pe
    for layer in model.decoder.layers:
        t = layer(t, memory)
    return memory, model.decoder.linear(t).transpose(1, 2)


def model_fixtures():
    import numalogic
    listings = {}
    for i, (name, (conf, conf2)) in enumerate(MODEL_CASES.items()):
        torch.manual_seed(100 + i)
        model = numalogic_model(name, conf)
        randomize_state(model)
        model.eval()
        x = torch.randn(4, conf["seq_len"], conf.get("n_features") or conf.get("n_channels") or conf.get("in_channels") or conf.get("no_features")) * 1.5
        with torch.no_grad():
            if name == "Conv1dVAE":
                mu, _ = model.encoder(model.configure_shape(x))
                latent, recon = mu, model.decoder(mu)  # AEFlow scores with z = mu
                error = F.mse_loss(x, recon, reduction="none")
            elif name.endswith("TransformerAE"):
                latent, recon = corrected_transformer_forward(model, x)
                error = F.huber_loss(x, recon, reduction="none")
            else:
                latent, recon = model(x)
                error = model.predict_step(x, 0)
        t = {f"param.{k}": v for k, v in model.state_dict().items()}
        t.update({"input.x": x, "output.latent": latent, "output.reconstruction": recon, "output.error": error})
        write(f"models/{name}", t, {"name": name, "conf": conf, "numalogic": importlib.metadata.version("numalogic")})
        for c in (conf, conf2):
            torch.manual_seed(0)
            sd = numalogic_model(name, c).state_dict()
            listings[f"{name} {json.dumps(c, sort_keys=True)}"] = [[k, list(v.shape)] for k, v in sd.items()]

    path = os.path.join(ROOT, "models", "listings.json")
    with open(path, "w") as f:
        json.dump(listings, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {os.path.relpath(path)} ({len(listings)} listings)")

    # TransformerAE blocks against numalogic's own layer classes.
    from numalogic.models.autoencoder.variants.transformer import _EncoderLayer, _DecoderLayer
    torch.manual_seed(150)
    enc = _EncoderLayer(dim_model=12, num_heads=3, dim_feedforward=16, dropout=0.1)
    randomize_state(enc)
    run_module("models/transformer_encoder_layer", enc, {"x": torch.randn(2, 3, 12)},
               {"dim_model": 12, "num_heads": 3, "dim_feedforward": 16}, mode="eval")
    torch.manual_seed(151)
    dec = _DecoderLayer(dim_model=12, num_heads=3, dim_feedforward=16, dropout=0.1)
    randomize_state(dec)
    run_module("models/transformer_decoder_layer", dec, {"tgt": torch.randn(2, 3, 12), "memory": torch.randn(2, 3, 12)},
               {"dim_model": 12, "num_heads": 3, "dim_feedforward": 16}, mode="eval")


# --- training on a shared synthetic series ---------------------------------------------------------

TRAINING_CASES = {
    "VanillaAE": {"seq_len": 12, "n_features": 3},
    "SparseVanillaAE": {"seq_len": 12, "n_features": 3},
    "MultichannelAE": {"seq_len": 12, "n_channels": 3},
    "VanillaICAE": {"seq_len": 12, "n_channels": 3},
    "Conv1dAE": {"seq_len": 12, "in_channels": 3, "enc_channels": [8, 4]},
    "SparseConv1dAE": {"seq_len": 12, "in_channels": 3, "enc_channels": [8, 4]},
    "LSTMAE": {"seq_len": 12, "no_features": 3, "embedding_dim": 8},
    "SparseLSTMAE": {"seq_len": 12, "no_features": 3, "embedding_dim": 8},
    "TransformerAE": {"seq_len": 12, "n_features": 3, "num_encoder_layers": 1, "num_decoder_layers": 1, "num_heads": 2, "dim_feedforward": 32},
    "SparseTransformerAE": {"seq_len": 12, "n_features": 3, "num_encoder_layers": 1, "num_decoder_layers": 1, "num_heads": 2, "dim_feedforward": 32},
    "Conv1dVAE": {"seq_len": 12, "n_features": 3, "latent_dim": 4},
}
TRAINING_EPOCHS = 20


def training_fixtures():
    """numalogic trains each model on the same standardised synthetic series the Swift tests use."""
    import numpy as np
    import pytorch_lightning as pl
    from numalogic.synthetic import SyntheticTSGenerator, AnomalyGenerator
    from numalogic.tools.data import StreamingDataset
    from numalogic.tools.trainer import TimeseriesTrainer
    from torch.utils.data import DataLoader

    gen = SyntheticTSGenerator(seq_len=2000, num_series=3, freq="T", primary_period=360, secondary_period=1440,
                               seasonal_ts_prob=1.0, random_seed=7)
    df = gen.gen_tseries()
    train_df, test_df = gen.train_test_split(df, test_size=500)
    injected = AnomalyGenerator(train_df, anomaly_type="global", anomaly_ratio=0.06, random_seed=7).inject_anomalies(
        test_df, cols=["s1", "s2"], impact=3)
    labels = (injected["is_anomaly"].to_numpy() > 0).astype(np.float32)
    test = injected.drop(columns=["is_anomaly"]).to_numpy(dtype=np.float32)
    train = train_df.to_numpy(dtype=np.float32)
    assert labels.sum() > 0 and not np.allclose(test, test_df.to_numpy(dtype=np.float32)), "no anomalies were injected"
    mean, std = train.mean(axis=0), train.std(axis=0)
    scaled = (train - mean) / std
    tensors = {"train": torch.from_numpy(train), "test": torch.from_numpy(test), "labels": torch.from_numpy(labels)}
    results = {}
    for i, (name, conf) in enumerate(TRAINING_CASES.items()):
        torch.manual_seed(300 + i)
        pl.seed_everything(300 + i, verbose=False)
        model = numalogic_model(name, conf)
        loader = DataLoader(StreamingDataset(scaled, conf["seq_len"]), batch_size=64)
        t0 = time.perf_counter()
        TimeseriesTrainer(max_epochs=TRAINING_EPOCHS, enable_progress_bar=False, logger=False, accelerator="cpu",
                          enable_model_summary=False).fit(model, train_dataloaders=loader)
        seconds = time.perf_counter() - t0
        model.eval()
        windows = StreamingDataset(scaled, conf["seq_len"]).as_tensor()
        with torch.no_grad():
            if name == "Conv1dVAE":
                mu, _ = model.encoder(model.configure_shape(windows))
                err = F.mse_loss(windows, model.decoder(mu), reduction="none")
            elif name.endswith("TransformerAE"):
                _, recon = model(windows)  # numalogic's own (view-based, softmax) forward
                err = model.criterion(windows.view(-1, conf["seq_len"], 3), recon.view(-1, conf["seq_len"], 3), reduction="none")
            else:
                err = model.predict_step(windows, 0)
        results[name] = {"conf": conf, "train_error_mean": float(err.mean()), "seconds": seconds}
        print(f"  {name}: mean reconstruction error {results[name]['train_error_mean']:.4f} ({seconds:.1f} s)")
    write("training/synthetic", tensors, {"epochs": TRAINING_EPOCHS, "batch_size": 64, "results": results,
                                          "scaler": "StandardScaler fitted on train"})


# --- preprocess transforms and thresholds (sklearn / numalogic) ---------------------------------------

TRANSFORM_CASES = [
    ("standard", "StandardScaler", {}),
    ("minmax", "MinMaxScaler", {}),
    ("maxabs", "MaxAbsScaler", {}),
    ("robust", "RobustScaler", {}),
    ("log", "LogTransformer", {"add_factor": 2}),
    ("power", "StaticPowerTransformer", {"n": 3, "add_factor": 1}),
    ("tanh", "TanhScaler", {}),
    ("percentile", "PercentileScaler", {"max_percentile": 99}),
    ("percentile_min", "PercentileScaler", {"max_percentile": 90, "min_percentile": 5}),
    ("clipper", "DataClipper", {"lower": [45.0, 0.1, 2.5], "upper": [55.0, 2.0, 7.0]}),
    ("difference", "DifferenceTransform", {}),
    ("ema", "ExpMovingAverage", {"beta": 0.6}),
]

THRESHOLD_CASES = [
    ("stddev", "StdDevThreshold", {"std_factor": 2.5, "min_threshold": 0.1}),
    ("percentile", "MaxPercentileThreshold", {"max_inlier_percentile": 95, "min_threshold": 1e-3}),
    ("sigmoid", "SigmoidThreshold", {"upper_limits": [0.5, 1.0, 2.0], "slope_factor": 5, "score_limit": 10}),
    ("mahalanobis", "MahalanobisThreshold", {"max_outlier_prob": 0.1}),
    ("robust_mahalanobis", "RobustMahalanobisThreshold", {"max_outlier_prob": 0.1, "support_fraction": 0.7}),
]


def mcd_fixtures():
    """numalogic's RobustMahalanobisThreshold (scikit-learn's MinCovDet underneath) on data with outliers,
    through each of FastMCD's paths: one feature, up to 500 rows, 500–1500 rows, above 1500 rows."""
    import numpy as np
    import sklearn
    from numalogic.models.threshold import RobustMahalanobisThreshold

    rng = np.random.default_rng(21)
    def bulk(n, p):
        a = rng.normal(0, 1, (p, p)) * 0.5 + np.eye(p)
        return np.abs(rng.normal(0, 1, (n, p)) @ a + 3)
    def contaminate(x, share):
        x = x.copy()
        idx = rng.choice(len(x), int(share * len(x)), replace=False)
        x[idx] += rng.uniform(4, 9, (len(idx), x.shape[1]))
        return x
    cases = {
        "p1": (contaminate(bulk(120, 1), 0.1), 0.7),
        "p1_default_support": (contaminate(bulk(120, 1), 0.1), None),
        "p2": (contaminate(bulk(200, 2), 0.08), 0.7),
        "p3_default_support": (contaminate(bulk(150, 3), 0.1), None),
        "p2_n700": (contaminate(bulk(700, 2), 0.1), 0.7),
        "p3_n2000": (contaminate(bulk(2000, 3), 0.05), 0.7),
        "p4_errors": (contaminate(np.abs(rng.normal(0, 1, (400, 4))) * np.array([0.5, 1.0, 2.0, 0.2]), 0.05), 0.7),
    }
    t, conf = {}, {}
    for name, (x, fraction) in cases.items():
        x = x.astype(np.float32)
        test = np.concatenate([bulk(10, x.shape[1]), bulk(5, x.shape[1]) + 6]).astype(np.float32)
        # FastMCD starts from random subsets: refit with eight seeds to see whether scikit-learn's own
        # answer depends on them (it does on large sets, where each seed finds another local minimum).
        fits = []
        for seed in range(8):
            np.random.seed(seed)
            fits.append(RobustMahalanobisThreshold(max_outlier_prob=0.1, support_fraction=fraction).fit(x))
        th = fits[0]
        mcd = th._mcd
        seed_scores = np.stack([np.asarray(f.score_samples(test), dtype=np.float64) for f in fits])
        stable = all(np.array_equal(f._mcd.raw_support_, mcd.raw_support_) for f in fits)
        def raw_logdet(m):
            return float(np.linalg.slogdet(np.cov(x[m.raw_support_].astype(np.float64).T, ddof=0).reshape(x.shape[1], -1))[1])
        t[f"{name}.scores_seed_spread"] = torch.from_numpy((seed_scores.max(0) - seed_scores.min(0)).astype(np.float32))
        t[f"{name}.x"] = torch.from_numpy(x)
        t[f"{name}.test"] = torch.from_numpy(test)
        t[f"{name}.scores"] = torch.from_numpy(np.asarray(th.score_samples(test), dtype=np.float32))
        t[f"{name}.predict"] = torch.from_numpy(np.asarray(th.predict(test), dtype=np.float32))
        t[f"{name}.threshold"] = torch.tensor([th.threshold], dtype=torch.float32)
        t[f"{name}.location"] = torch.from_numpy(mcd.location_.astype(np.float32))
        t[f"{name}.precision"] = torch.from_numpy(mcd.get_precision().astype(np.float32))
        t[f"{name}.raw_support"] = torch.from_numpy(mcd.raw_support_.astype(np.float32))
        t[f"{name}.support"] = torch.from_numpy(mcd.support_.astype(np.float32))
        conf[name] = {"max_outlier_prob": 0.1, "support_fraction": fraction, "seed_independent": stable,
                      "raw_logdet_worst_seed": max(raw_logdet(f._mcd) for f in fits)}
    write("scoring/mcd", t, {"cases": conf, "sklearn": sklearn.__version__})


def scoring_fixtures():
    import numpy as np
    from sklearn.preprocessing import StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler
    import numalogic.transforms as T
    import numalogic.models.threshold as TH
    from numalogic.transforms import expmov_avg_aggregator, tanh_norm, SigmoidNorm

    rng = np.random.default_rng(5)
    def data(n):
        return np.stack([rng.normal(50, 10, n), rng.exponential(1.0, n), np.full(n, 3.0) + rng.normal(0, 1e-9, n) * 0], axis=1).astype(np.float32)
    x, y = data(60), data(20)
    y[3, 2] = 4.0  # the constant column moves in new data
    classes = {"StandardScaler": StandardScaler, "MinMaxScaler": MinMaxScaler, "MaxAbsScaler": MaxAbsScaler,
               "RobustScaler": RobustScaler}
    stat_attrs = {"StandardScaler": {"mean": "mean_", "scale": "scale_"}, "MinMaxScaler": {"min": "min_", "scale": "scale_"},
                  "MaxAbsScaler": {"scale": "scale_"}, "RobustScaler": {"center": "center_", "scale": "scale_"},
                  "TanhScaler": {"mean": "_mean", "std": "_std"}}
    t = {"x": torch.from_numpy(x), "y": torch.from_numpy(y)}
    cases = {}
    for case, name, conf in TRANSFORM_CASES:
        tx = classes[name](**conf) if name in classes else getattr(T, name)(**conf)
        fx = tx.fit_transform(x) if hasattr(tx, "fit_transform") else tx.transform(x)
        t[f"{case}.fit_transform"] = torch.from_numpy(np.asarray(fx, dtype=np.float32))
        t[f"{case}.transform_y"] = torch.from_numpy(np.asarray(tx.transform(y), dtype=np.float32))
        if hasattr(tx, "inverse_transform") and name not in ("DataClipper",):
            try:
                t[f"{case}.inverse_y"] = torch.from_numpy(np.asarray(tx.inverse_transform(tx.transform(y)), dtype=np.float32))
            except NotImplementedError:
                pass
        for stat, attr in stat_attrs.get(name, {}).items():
            t[f"{case}.stat.{stat}"] = torch.from_numpy(np.asarray(getattr(tx, attr), dtype=np.float32))
        if name == "PercentileScaler":
            t[f"{case}.stat.datapthmax"] = torch.from_numpy(np.asarray(tx.data_pth_max, dtype=np.float32))
            t[f"{case}.stat.datapthmin"] = torch.from_numpy(np.asarray(tx.data_pth_min, dtype=np.float32))
        cases[case] = {"name": name, "conf": conf}

    errors = np.abs(rng.normal(0, 1, (80, 3))).astype(np.float32) * np.array([0.5, 1.0, 2.0], dtype=np.float32)
    errors[:, 1] += 0.3 * errors[:, 0]
    test_errors = np.abs(rng.normal(0, 1.5, (15, 3))).astype(np.float32)
    t["errors"], t["test_errors"] = torch.from_numpy(errors), torch.from_numpy(test_errors)
    thresholds = {}
    for case, name, conf in THRESHOLD_CASES:
        if name == "SigmoidThreshold":
            th = TH.SigmoidThreshold(*conf["upper_limits"], slope_factor=conf["slope_factor"], score_limit=conf["score_limit"])
        else:
            th = getattr(TH, name)(**conf)
        th.fit(errors)
        scores = np.asarray(th.score_samples(test_errors), dtype=np.float32)
        pred = np.asarray(th.predict(test_errors), dtype=np.float32)
        if scores.ndim == 1:
            scores, pred = scores.reshape(-1, 1), pred.reshape(-1, 1)
        t[f"th.{case}.scores"] = torch.from_numpy(np.ascontiguousarray(scores))
        t[f"th.{case}.predict"] = torch.from_numpy(np.ascontiguousarray(pred))
        if name == "StdDevThreshold":
            t[f"th.{case}.stat.mean"] = torch.from_numpy(th.mean.astype(np.float32))
            t[f"th.{case}.stat.std"] = torch.from_numpy(th.std.astype(np.float32))
        if hasattr(th, "threshold"):
            t[f"th.{case}.stat.threshold"] = torch.from_numpy(np.atleast_1d(np.asarray(th.threshold, dtype=np.float32)))
        thresholds[case] = {"name": name, "conf": conf}

    seq = rng.normal(0, 1, 12).astype(np.float32)
    t["agg.seq"] = torch.from_numpy(seq)
    t["agg.expmov"] = torch.tensor([expmov_avg_aggregator(seq.reshape(-1, 1), beta=0.6)], dtype=torch.float32)
    t["agg.expmov_nocorr"] = torch.tensor([expmov_avg_aggregator(seq.reshape(-1, 1), beta=0.6, bias_correction=False)], dtype=torch.float32)
    ratios = np.abs(seq) * 3
    t["post.ratios"] = torch.from_numpy(ratios)
    t["post.tanh"] = torch.from_numpy(tanh_norm(ratios).astype(np.float32))
    t["post.sigmoid"] = torch.from_numpy(SigmoidNorm().transform(ratios).astype(np.float32))
    write("scoring/components", t, {"transforms": cases, "thresholds": thresholds})
    mcd_fixtures()


# --- end to end: a numalogic-trained pipeline imported and scored ------------------------------------

def e2e_fixtures():
    """numalogic trains VanillaAE + StandardScaler + StdDevThreshold (its recipe); Scripts/import_numalogic.py
    turns the saved objects into a checkpoint; numalogic's inference + postprocess logic scores a CSV."""
    import subprocess
    import tempfile
    import numpy as np
    import pytorch_lightning as pl
    from sklearn.preprocessing import StandardScaler
    from numalogic.models.autoencoder.variants import VanillaAE
    from numalogic.models.threshold import StdDevThreshold
    from numalogic.synthetic import SyntheticTSGenerator, AnomalyGenerator
    from numalogic.tools.data import StreamingDataset
    from numalogic.tools.trainer import TimeseriesTrainer
    from numalogic.tools.aggregators import aggregate_window, aggregate_features
    from numalogic.transforms import TanhNorm
    from torch.utils.data import DataLoader

    torch.manual_seed(400)
    pl.seed_everything(400, verbose=False)
    gen = SyntheticTSGenerator(seq_len=1800, num_series=2, freq="T", primary_period=240, secondary_period=1200,
                               seasonal_ts_prob=1.0, random_seed=11)
    df = gen.gen_tseries()
    train_df, test_df = gen.train_test_split(df, test_size=300)
    test_df = AnomalyGenerator(train_df, anomaly_type="global", anomaly_ratio=0.05, random_seed=11).inject_anomalies(
        test_df, cols=["s1"]).drop(columns=["is_anomaly"])
    x_train = train_df.to_numpy(dtype=np.float32)
    scaler = StandardScaler()
    scaled = scaler.fit_transform(x_train).astype(np.float32)
    model = VanillaAE(seq_len=12, n_features=2)
    loader = DataLoader(StreamingDataset(scaled, 12), batch_size=64)
    TimeseriesTrainer(max_epochs=5, enable_progress_bar=False, logger=False, accelerator="cpu",
                      enable_model_summary=False).fit(model, train_dataloaders=loader)
    errors = TimeseriesTrainer(enable_progress_bar=False, logger=False, accelerator="cpu", enable_model_summary=False).predict(
        model, dataloaders=DataLoader(StreamingDataset(scaled, 12), batch_size=64), unbatch=False)
    threshold = StdDevThreshold().fit(errors.numpy().mean(axis=1))   # numalogic's recipe: window means

    out_dir = os.path.join(ROOT, "e2e")
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, obj in (("model", model), ("scaler", scaler), ("threshold", threshold)):
            torch.save(obj, os.path.join(tmp, f"{name}.pt"))
        subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "import_numalogic.py"),
                        "--model", os.path.join(tmp, "model.pt"), "--preprocess", os.path.join(tmp, "scaler.pt"),
                        "--threshold", os.path.join(tmp, "threshold.pt"), "--metrics", "s1,s2", "--pipeline-id", "p1",
                        "--key", "app:ns", "--output", os.path.join(out_dir, "numalogic_vanilla.safetensors")], check=True)

    # numalogic's inference stage and postprocess stage, window by window (reference section 7.3).
    test = test_df.to_numpy(dtype=np.float32)
    stamps = [int(ts.timestamp() * 1000) for ts in test_df.index]
    model.eval()
    post = TanhNorm()
    with open(os.path.join(out_dir, "test.csv"), "w") as f:
        f.write("timestamp,s1,s2\n")
        for ts, row in zip(stamps, test):
            f.write(f"{ts},{repr(float(row[0]))},{repr(float(row[1]))}\n")
    with open(os.path.join(out_dir, "expected_scores.csv"), "w") as f:
        f.write("timestamp,unified,s1_score,s2_score\n")
        for i in range(11, len(test)):
            window = scaler.transform(test[i - 11:i + 1]).astype(np.float32)
            with torch.no_grad():
                err = model.get_reconstruction_loss(torch.from_numpy(window).unsqueeze(0), reduction="none").squeeze(0).numpy()
            scores = threshold.score_samples(err).astype(np.float32)
            raw_f = aggregate_window(scores, agg_func=np.mean)
            raw_u = aggregate_features(raw_f.reshape(1, -1), agg_func=np.max).item()
            a_f, a_u = post.transform(raw_f).astype(np.float32), post.transform(np.float64(raw_u))
            f.write(f"{stamps[i]},{float(a_u)!r},{float(a_f[0])!r},{float(a_f[1])!r}\n")
    print(f"wrote {os.path.relpath(out_dir)} (numalogic_vanilla.safetensors, test.csv, expected_scores.csv)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="nn,optim,models,training,scoring,e2e",
                    help="comma-separated groups: nn, optim, models, training, scoring, e2e (the last four need numalogic)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    groups = {"nn": nn_fixtures, "optim": optim_fixtures, "models": model_fixtures, "training": training_fixtures,
              "scoring": scoring_fixtures, "e2e": e2e_fixtures}
    for g in args.only.split(","):
        if g not in groups:
            sys.exit(f"unknown group {g!r}; known: {', '.join(groups)}")
        groups[g]()


if __name__ == "__main__":
    main()
