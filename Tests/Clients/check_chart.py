#!/usr/bin/env python3
"""Lints and renders helm/aeflow with Helm's own engine (helm-python-sdk) for several sets of values, and
validates every rendered manifest against the Kubernetes schemas (kubernetes-validate), for the chart tests.

    check_chart.py CHART_DIR OUT_DIR

Writes each rendering's AEFlow config to OUT_DIR/<case>.yaml (so the caller can run `aeflow config
validate` on it) and prints one JSON object: per case the lint messages, the kinds rendered, schema
problems, and the facts the Dockerfile must agree with (containers' command/args, ports, user, probes);
plus the values the schema refused, with Helm's messages.
"""
import json
import os
import sys

import helm_python as helm
import kubernetes_validate
import yaml

K8S_VERSION = "1.30.0"

# The chart names no image of its own: every install says which image (built from the Dockerfile and pushed
# to the user's registry) it runs.
IMAGE = {"image": {"repository": "registry.example.com/team/aeflow"}}

CASES = {
    "default": IMAGE,
    "production": {
        "replicaCount": 3,
        "auth": {"existingSecret": "aeflow-token"},
        "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
        "grafanaDashboard": {"enabled": True},
        "persistence": {"enabled": True, "size": "50Gi", "storageClass": "fast"},
        "serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "prometheus"}},
        "ports": {"input": 7000, "scores": 7001, "http": 9000, "retrainHttp": 9001},
        "service": {"type": "LoadBalancer", "annotations": {"example.com/lb": "internal"}},
        "image": {"repository": "registry.example.com/aeflow", "tag": "1.2.3", "pullPolicy": "Always"},
        "config": {
            "windows": {"max_keys": 500000},
            "retrain": {"concurrency": 2},
            "stream_confs": {
                "pods": {
                    "config_id": "pods", "window_size": 12, "composite_keys": ["cluster", "pod"],
                    "ml_pipelines": {"latency": {
                        "pipeline_id": "latency", "metrics": ["latency_ms"], "model_scope": "pipeline",
                        "numalogic_conf": {"model": {"name": "VanillaAE", "conf": {"seq_len": 12, "n_features": 1}},
                                           "preprocess": [{"name": "StandardScaler"}]}}},
                },
            },
        },
        "curve": {"enabled": True, "secretName": "aeflow-curve", "clientsSecretName": "aeflow-clients"},
        "podAnnotations": {"team": "observability"},
        "nodeSelector": {"kubernetes.io/arch": "amd64"},
    },
    "scoring-only": {**IMAGE, "retrain": {"enabled": False}, "persistence": {"enabled": True, "existingClaim": "shared-models"}},
}

BAD_VALUES = {
    "two replicas on one ReadWriteOnce volume": {"persistence": {"enabled": True, "existingClaim": "shared"}, "replicaCount": 2},
    "a port that is not a number": {"ports": {"input": "five"}},
    "an unknown top-level key": {"replicas": 3},
    "a port out of range": {"ports": {"http": 70000}},
    "an unknown pull policy": {"image": {"pullPolicy": "Sometimes"}},
    "CURVE without its secrets": {"curve": {"enabled": True}},
    "no image repository": {},
}


def containers(doc):
    spec = doc["spec"]["template"]["spec"]
    out = {}
    for c in spec["containers"]:
        out[c["name"]] = {
            "command": c.get("command"),
            "args": c.get("args"),
            "ports": {p["name"]: p["containerPort"] for p in c.get("ports", [])},
            "liveness": c.get("livenessProbe", {}).get("httpGet", {}).get("path"),
            "readiness": c.get("readinessProbe", {}).get("httpGet", {}).get("path"),
            "readOnlyRootFilesystem": c.get("securityContext", {}).get("readOnlyRootFilesystem"),
            "mounts": [m["mountPath"] for m in c.get("volumeMounts", [])],
        }
    return out, spec.get("securityContext", {})


def check_case(chart_dir, out_dir, name, values):
    lint = helm.lint(chart_dir, values, strict=True)
    problems = [m for m in lint.get("messages", []) if m.get("severity", 0) >= 2] + [{"error": e} for e in lint.get("errors", [])]
    with helm.Chart.load(chart_dir) as chart:
        rendered = chart.render(values=values, name="obs", namespace="monitoring")
    kinds, invalid, facts = [], [], {"metrics": []}
    service_ports = set()
    monitors, rules = [], []
    for path, text in sorted(rendered.items()):
        if not path.endswith(".yaml"):
            continue
        for doc in yaml.safe_load_all(text):
            if not doc:
                continue
            kinds.append(doc["kind"])
            if doc["kind"] in ("ServiceMonitor", "PrometheusRule"):
                # CRDs: not in the Kubernetes schemas; checked below.
                (monitors if doc["kind"] == "ServiceMonitor" else rules).append(doc)
            else:
                try:
                    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
                except Exception as e:   # ValidationError, or a kind unknown to the schemas
                    invalid.append(f"{path}: {doc['kind']}: {e}")
            if doc["kind"] == "ConfigMap" and "aeflow.yaml" in doc["data"]:
                with open(os.path.join(out_dir, f"{name}.yaml"), "w") as f:
                    f.write(doc["data"]["aeflow.yaml"])
            if doc["kind"] == "ConfigMap" and "aeflow.json" in doc["data"]:
                dashboard = json.loads(doc["data"]["aeflow.json"])
                facts["dashboardLabels"] = doc["metadata"].get("labels", {})
                facts["dashboardPanels"] = [p["title"] for p in dashboard["panels"]]
                facts["metrics"] += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
            if doc["kind"] == "PodDisruptionBudget":
                facts["pdb"] = doc["spec"]
            if doc["kind"] in ("Deployment", "StatefulSet"):
                facts["workload"] = doc["kind"]
                facts["replicas"] = doc["spec"]["replicas"]
                facts["claimTemplates"] = [c["metadata"]["name"] for c in doc["spec"].get("volumeClaimTemplates", [])]
                facts["serviceName"] = doc["spec"].get("serviceName")
                facts["env"] = {c["name"]: [e["name"] for e in c.get("env", [])] for c in doc["spec"]["template"]["spec"]["containers"]}
                facts["startup"] = {c["name"]: c.get("startupProbe", {}).get("httpGet", {}).get("path") for c in doc["spec"]["template"]["spec"]["containers"]}
                facts["containers"], facts["podSecurityContext"] = containers(doc)
                facts["strategy"] = doc["spec"].get("strategy", {}).get("type")
                facts["volumes"] = {v["name"]: sorted(k for k in v if k != "name")[0] for v in doc["spec"]["template"]["spec"]["volumes"]}
            if doc["kind"] == "Service" and doc["spec"].get("clusterIP") == "None":
                facts["headlessPorts"] = sorted(p["name"] for p in doc["spec"]["ports"])
                facts["headlessName"] = doc["metadata"]["name"]
            elif doc["kind"] == "Service":
                service_ports = {p["name"] for p in doc["spec"]["ports"]}
                facts["servicePorts"] = {p["name"]: p["port"] for p in doc["spec"]["ports"]}
    for m in monitors:
        spec = m.get("spec", {})
        if m.get("apiVersion") != "monitoring.coreos.com/v1" or not spec.get("selector", {}).get("matchLabels"):
            invalid.append("ServiceMonitor: apiVersion or selector missing")
        for e in spec.get("endpoints", []):
            if e.get("port") not in service_ports:
                invalid.append(f"ServiceMonitor endpoint port {e.get('port')} is not a Service port")
            facts["monitorAuth"] = e.get("authorization")
    for r in rules:
        groups = r.get("spec", {}).get("groups", [])
        if r.get("apiVersion") != "monitoring.coreos.com/v1" or not groups:
            invalid.append("PrometheusRule: apiVersion or groups missing")
        for g in groups:
            for rule in g.get("rules", []):
                if not rule.get("alert") or not rule.get("expr") or not isinstance(rule["expr"], str):
                    invalid.append(f"PrometheusRule: rule without alert or expr: {rule}")
                facts.setdefault("alerts", []).append(rule.get("alert"))
                facts["metrics"].append(rule.get("expr", ""))
    return {"lint": problems, "kinds": sorted(kinds), "invalid": invalid, "facts": facts,
            "notes": "NOTES.txt" in " ".join(rendered)}


def main():
    chart_dir, out_dir = sys.argv[1], sys.argv[2]
    report = {"cases": {}, "refused": {}}
    for name, values in CASES.items():
        report["cases"][name] = check_case(chart_dir, out_dir, name, values)
    for name, values in BAD_VALUES.items():
        if name != "no image repository":
            values = {**IMAGE, **values, "image": {**IMAGE["image"], **values.get("image", {})}}
        try:
            with helm.Chart.load(chart_dir) as chart:
                chart.render(values=values, name="obs", namespace="monitoring")
            report["refused"][name] = None
        except helm.HelmError as e:
            report["refused"][name] = str(e)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
