"""Reads the deploy/ manifests as YAML (PyYAML) and prints a JSON summary the end-to-end test
checks: each document's kind, the Deployments' probes and termination grace periods, and the
configuration files embedded in ConfigMaps (written to OUT_DIR/<name> for check-config).

usage: check_deploy.py DEPLOY_DIR OUT_DIR"""

import json
import os
import sys

import yaml


def main(deploy, out):
    summary = {"documents": [], "configs": []}
    for root, _, files in os.walk(deploy):
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml")):
                continue
            path = os.path.join(root, name)
            with open(path) as file:
                for document in yaml.safe_load_all(file):
                    if not document:
                        continue
                    entry = {"file": os.path.relpath(path, deploy), "kind": document.get("kind", "compose")}
                    spec = (document.get("spec") or {}).get("template", {}).get("spec", {})
                    if spec:
                        container = spec["containers"][0]
                        entry["grace"] = spec.get("terminationGracePeriodSeconds")
                        entry["probes"] = sorted(k for k in container if k.endswith("Probe"))
                    if document.get("kind") == "ConfigMap":
                        for key, text in document.get("data", {}).items():
                            target = os.path.join(out, key)
                            with open(target, "w") as config:
                                config.write(text)
                            summary["configs"].append(target)
                    if "services" in document:
                        entry["services"] = sorted(document["services"])
                    summary["documents"].append(entry)
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
