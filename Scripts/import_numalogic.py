#!/usr/bin/env python3
"""Turn numalogic artifacts into an AEFlow checkpoint (format aeflow.checkpoint.v1, ARCHITECTURE.md section 3).

numalogic's registries store whole pickled objects (a LightningModule, an sklearn scaler, a threshold
estimator). This script reads those (or a plain state dict plus the model's conf) and writes one
safetensors file that `aeflow score` and the daemon load without Python.

    .venv/bin/python Scripts/import_numalogic.py \\
        --model model.pt [--model-conf '{"seq_len": 12, "n_features": 2}'] \\
        --preprocess scaler.pt [--preprocess ...] --threshold threshold.pt \\
        --metrics cpu,mem --output model.safetensors [--pipeline-id default] [--key app:ns]

    # from a state dict instead of a pickled model object:
    .venv/bin/python Scripts/import_numalogic.py --state-dict sd.pt --model-name VanillaAE \\
        --model-conf '{"seq_len": 12, "n_features": 2}' ...

Only load pickles you trust: unpickling runs code (the reason AEFlow uses safetensors). TransformerAE
checkpoints are refused: numalogic's TransformerAE forward differs from AEFlow's corrected one.
"""
import argparse
import datetime
import hashlib
import json
import struct
import sys

import numpy as np

TRANSFORMER_NAMES = {"TransformerAE", "SparseTransformerAE"}


def load_object(path):
    import torch
    return torch.load(path, weights_only=False, map_location="cpu")


def model_conf_from_object(model):
    """The constructor arguments of a numalogic model object, where they can be recovered."""
    name = type(model).__name__
    hp = dict(getattr(model, "hparams", {}) or {})
    if hp:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in hp.items()}
    sd = model.state_dict()
    if name in ("VanillaAE", "SparseVanillaAE"):
        lin_w = [(k, v) for k, v in sd.items() if k.endswith(".weight") and v.dim() == 2]
        enc = [v.shape[0] for k, v in lin_w if k.startswith("encoder.")]
        dec = [v.shape[1] for k, v in lin_w if k.startswith("decoder.")]
        return {"seq_len": model.seq_len, "n_features": model.n_features, "encoder_layersizes": enc,
                "decoder_layersizes": dec, "dropout_p": float(model.dropout_prob),
                "batchnorm": any(".running_mean" in k for k in sd)}
    if name == "LSTMAE" or name == "SparseLSTMAE":
        layers = lambda prefix: len({k for k in sd if k.startswith(prefix) and "weight_ih_l" in k})
        return {"seq_len": model.seq_len, "no_features": model.no_features, "embedding_dim": model.embedding_dim,
                "encoder_layers": layers("encoder.lstm."), "decoder_layers": layers("decoder.lstm.")}
    raise SystemExit(f"cannot recover the constructor arguments of {name}; pass --model-conf")


def settings_from_object(model):
    """BaseAE keyword arguments (loss_fn, optim_algo, lr, weight_decay) of a model object."""
    out = {}
    crit = getattr(model, "criterion", None)
    name = getattr(crit, "__name__", "")
    out["loss_fn"] = {"huber_loss": "huber", "l1_loss": "l1", "l2_loss": "mse", "mse_loss": "mse"}.get(name, "huber")
    for attr, key in (("optim_algo", "optim_algo"), ("lr", "lr"), ("weight_decay", "weight_decay")):
        if hasattr(model, attr):
            out[key] = getattr(model, attr)
    return out


def preprocess_entries(obj):
    """(name, conf, stats) for an sklearn scaler, a numalogic transform or an sklearn Pipeline of them."""
    cls = type(obj).__name__
    if cls == "Pipeline":
        return [e for _, step in obj.steps for e in preprocess_entries(step)]
    f32 = lambda a: np.asarray(a, dtype=np.float32)
    if cls == "StandardScaler":
        return [("StandardScaler", {"with_mean": bool(obj.with_mean), "with_std": bool(obj.with_std)},
                 {"mean": f32(obj.mean_ if obj.with_mean else np.zeros_like(obj.scale_)), "scale": f32(obj.scale_)})]
    if cls == "MinMaxScaler":
        return [("MinMaxScaler", {"feature_range": list(obj.feature_range)}, {"min": f32(obj.min_), "scale": f32(obj.scale_)})]
    if cls == "MaxAbsScaler":
        return [("MaxAbsScaler", {}, {"scale": f32(obj.scale_)})]
    if cls == "RobustScaler":
        return [("RobustScaler", {"with_centering": bool(obj.with_centering), "with_scaling": bool(obj.with_scaling),
                                  "quantile_range": list(obj.quantile_range)},
                 {"center": f32(obj.center_), "scale": f32(obj.scale_)})]
    if cls == "TanhScaler":
        return [("TanhScaler", {"coeff": obj._coeff, "eps": obj._eps}, {"mean": f32(obj._mean), "std": f32(obj._std)})]
    if cls == "LogTransformer":
        return [("LogTransformer", {"add_factor": obj.add_factor}, {})]
    raise SystemExit(f"unsupported preprocess object {cls}")


def threshold_entry(obj):
    cls = type(obj).__name__
    f32 = lambda a: np.atleast_1d(np.asarray(a, dtype=np.float32))
    if cls == "StdDevThreshold":
        stats = {"mean": f32(obj.mean), "std": f32(obj.std), "threshold": f32(obj.threshold)}
        return cls, {"std_factor": obj.std_factor, "min_threshold": obj.min_threshold}, stats, stats["mean"], stats["std"]
    if cls == "MaxPercentileThreshold":
        thr = f32(obj.threshold)
        return cls, {"max_inlier_percentile": obj._max_percentile, "min_threshold": obj._min_thresh}, {"threshold": thr}, \
            np.zeros_like(thr), thr / 3
    raise SystemExit(f"unsupported threshold object {cls}")


def write_checkpoint(path, tensors, metadata):
    """Writes safetensors with tensors in the given order and the data section's SHA-256 in the metadata."""
    header, offset, blobs = {}, 0, []
    for name, arr in tensors:
        dtype = {np.float32: "F32", np.int64: "I64"}[arr.dtype.type]
        data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    body = b"".join(blobs)
    meta = dict(metadata, data_sha256=hashlib.sha256(body).hexdigest())
    doc = {"__metadata__": dict(sorted(meta.items()))}
    doc.update(header)
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a torch.save'd numalogic model object")
    ap.add_argument("--state-dict", help="a torch.save'd state dict (needs --model-name and --model-conf)")
    ap.add_argument("--model-name")
    ap.add_argument("--model-conf", help="JSON of the model's constructor arguments (numalogic names)")
    ap.add_argument("--preprocess", action="append", default=[], help="torch.save'd/pickled scaler or transform (repeatable)")
    ap.add_argument("--threshold", required=True, help="torch.save'd numalogic threshold estimator")
    ap.add_argument("--metrics", required=True, help="comma-separated metric names, in column order")
    ap.add_argument("--output", required=True)
    ap.add_argument("--pipeline-id", default="default")
    ap.add_argument("--key", default="", help="composite key values separated by ':'")
    ap.add_argument("--version", type=int, default=1)
    args = ap.parse_args()

    if args.model:
        model = load_object(args.model)
        name = type(model).__name__
        conf = json.loads(args.model_conf) if args.model_conf else model_conf_from_object(model)
        conf = dict(settings_from_object(model), **conf)
        state = model.state_dict()
    elif args.state_dict:
        if not (args.model_name and args.model_conf):
            raise SystemExit("--state-dict needs --model-name and --model-conf")
        name, conf, state = args.model_name, json.loads(args.model_conf), load_object(args.state_dict)
    else:
        raise SystemExit("give --model or --state-dict")
    if name in TRANSFORMER_NAMES:
        raise SystemExit(f"{name} cannot be imported: numalogic's TransformerAE reinterprets memory instead of "
                         "transposing and ends in a softmax; AEFlow's TransformerAE keeps the names but computes "
                         "the corrected forward, so these weights would score differently. Retrain with AEFlow.")
    metrics = args.metrics.split(",")
    seq_len = int(conf.get("seq_len") or conf.get("seq_length"))

    tensors = []
    for k, v in state.items():
        arr = v.detach().cpu().numpy()
        arr = arr.astype(np.int64) if k.endswith("num_batches_tracked") else arr.astype(np.float32)
        tensors.append((f"model.{k}", arr))
    pre_specs = []
    for i, e in enumerate(e for p in args.preprocess for e in preprocess_entries(load_object(p))):
        pname, pconf, stats = e
        pre_specs.append({"name": pname, "conf": pconf, "stateful": bool(stats)})
        tensors += [(f"preprocess.{i}.{s}", a) for s, a in stats.items()]
    tname, tconf, tstats, err_mean, err_std = threshold_entry(load_object(args.threshold))
    tensors += [(f"threshold.{s}", a) for s, a in tstats.items()]
    tensors += [("score.errormean", np.abs(err_mean).astype(np.float32)), ("score.errorstd", np.abs(err_std).astype(np.float32))]
    spec = {"model": {"name": name, "conf": conf}, "preprocess": pre_specs, "threshold": {"name": tname, "conf": tconf},
            "postprocess": {"name": "TanhNorm", "conf": {"scale_factor": 10, "smooth_factor": 10}, "stateful": False},
            "score": {"window_agg": {"method": "mean"}, "feature_agg": {"method": "max"}, "mode": "numalogic"}}
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    metadata = {"format": "aeflow.checkpoint.v1", "spec": json.dumps(spec, separators=(",", ":")),
                "metrics": json.dumps(metrics, separators=(",", ":")), "seq_len": str(seq_len), "pipeline_id": args.pipeline_id,
                "key": json.dumps(args.key.split(":") if args.key else [], separators=(",", ":")), "version": str(args.version),
                "created_at": now, "train": json.dumps({"source": "numalogic import"}, separators=(",", ":"))}
    write_checkpoint(args.output, tensors, metadata)
    print(f"wrote {args.output}: {name} on {', '.join(metrics)}, {len(tensors)} tensors", file=sys.stderr)


if __name__ == "__main__":
    main()
