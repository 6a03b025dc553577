#!/usr/bin/env python3
"""Validates Numaflow manifests against Numaflow's own CRD schemas (Pipeline, MonoVertex: vendored from
numaproj/numaflow by Scripts/vendor_numaflow_crds.py) and their other documents against Kubernetes' schemas.

    check_numaflow.py SCHEMAS.json.gz MANIFEST.yaml ...

Strict, like `kubectl apply --validate=strict`: a field the schema does not define is an error (Kubernetes would
silently prune it), unless the schema keeps unknown fields. Prints one JSON object: {"files": {path: [errors]},
"kinds": {path: [kinds]}, "commit": the CRDs' commit}.
"""
import copy
import gzip
import json
import sys

import jsonschema
import kubernetes_validate
import yaml

K8S_VERSION = "1.30.0"


def strict(schema):
    """Objects with declared properties refuse others, as structural schemas prune them."""
    s = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (node.get("type") == "object" and "properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(s)
    return s


def main():
    with gzip.open(sys.argv[1], "rt") as f:
        vendored = json.load(f)
    validators = {kind: jsonschema.Draft7Validator(strict(schema)) for kind, schema in vendored["kinds"].items()}
    report = {"commit": vendored["commit"], "files": {}, "kinds": {}}
    for path in sys.argv[2:]:
        errors, kinds = [], []
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for d in docs:
            kind = d.get("kind")
            kinds.append(kind)
            if d.get("apiVersion") == "numaflow.numaproj.io/v1alpha1":
                if kind not in validators:
                    errors.append(f"{kind}: no vendored schema")
                    continue
                for e in sorted(validators[kind].iter_errors(d), key=lambda e: list(e.absolute_path)):
                    errors.append(f"{kind} {'.'.join(str(p) for p in e.absolute_path)}: {e.message}")
            else:
                try:
                    kubernetes_validate.validate(d, K8S_VERSION, strict=True)
                except Exception as e:
                    errors.append(f"{kind}: {e}")
        report["files"][path] = errors
        report["kinds"][path] = kinds
    print(json.dumps(report))


if __name__ == "__main__":
    main()
