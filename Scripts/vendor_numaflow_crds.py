#!/usr/bin/env python3
"""Vendors the validation schemas of Numaflow's Pipeline and MonoVertex CRDs for the manifest tests.

    python3 Scripts/vendor_numaflow_crds.py PATH/TO/numaflow-checkout

Reads config/base/crds/full/numaflow.numaproj.io_{pipelines,monovertices}.yaml from a numaproj/numaflow checkout
(Apache-2.0), keeps only each CRD's v1alpha1 openAPIV3Schema, and writes them with the checkout's commit to
Tests/Fixtures/numaflow/crd-schemas.json.gz (compact JSON, gzip: the CRDs are ~1 MB of YAML). Run it again to
move to a newer Numaflow.
"""
import gzip
import json
import os
import subprocess
import sys

import yaml


def main():
    checkout = sys.argv[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = {"source": "numaproj/numaflow config/base/crds/full", "commit": subprocess.run(
        ["git", "-C", checkout, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(), "kinds": {}}
    for name in ["pipelines", "monovertices"]:
        with open(os.path.join(checkout, "config/base/crds/full", f"numaflow.numaproj.io_{name}.yaml")) as f:
            crd = yaml.safe_load(f)
        version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
        out["kinds"][crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    path = os.path.join(root, "Tests/Fixtures/numaflow/crd-schemas.json.gz")
    with gzip.open(path, "wt", compresslevel=9) as f:
        json.dump(out, f, separators=(",", ":"), sort_keys=True)
    print(f"wrote {path} ({os.path.getsize(path)} bytes) from {out['commit']}")


if __name__ == "__main__":
    main()
