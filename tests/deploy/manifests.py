"""What the deployment tests read: the Kubernetes manifests and the resolved compose file."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import compose
import yaml

from tests.processes import ROOT

K8S = ROOT / "deploy" / "k8s"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
COMPOSE_BIN = Path(compose.__file__).parent / "docker-compose"

Doc = dict[str, Any]


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


@functools.cache
def _manifests() -> tuple[Doc, ...]:
    docs: list[Doc] = []
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                doc["__file__"] = path.name
                docs.append(doc)
    return tuple(docs)


def manifests() -> list[Doc]:
    """Every Kubernetes object of deploy/k8s, a fresh copy each call."""
    return [json.loads(json.dumps(doc)) for doc in _manifests()]


def without_origin(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if k != "__file__"}


def one(kind: str, name: str) -> Doc:
    (found,) = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def container(deployment: str) -> Doc:
    (only,) = one("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    return dict(only)


def compose_config(*args: str) -> Doc:
    """``docker-compose config`` as JSON, resolved by the real Compose v2, with the file's
    own defaults (no TWOSTEP_* from the caller's environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWOSTEP_", "PORTAL_"))}
    result = subprocess.run(
        [str(COMPOSE_BIN), "-f", "docker-compose.yml", *args, "config", "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    parsed: Doc = json.loads(result.stdout)
    return parsed
