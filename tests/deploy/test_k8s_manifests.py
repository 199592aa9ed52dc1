"""deploy/k8s: every object valid against its schema, and in step with the code it deploys."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from typing import Any
from urllib.parse import urlsplit

import fakeredis
import httpx
import jsonschema
import kubernetes_validate
import pytest
import redis.asyncio
import yaml

from api.main import create_app
from shared.jobs import CODE_QUEUE, NOTICE_QUEUE
from tests.api_calls import make_settings
from tests.deploy.manifests import (
    K8S,
    Doc,
    compose_config,
    container,
    manifest_files,
    manifests,
    one,
    without_origin,
)
from tests.fakes import RecordingMailQueue
from tests.processes import ROOT, service_env

# The oldest Kubernetes the manifests are for (preStop's sleep action is on by default from
# 1.30), and the newest whose schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
KEDA_SCHEMA = json.loads((K8S / "schemas" / "keda.sh_scaledobject_v1alpha1.json").read_text())
# The redis (lists) scaler's metadata, as KEDA documents it.
REDIS_SCALER_KEYS = {
    "address", "addressFromEnv", "host", "hostFromEnv", "port", "portFromEnv",
    "usernameFromEnv", "passwordFromEnv", "listName", "listLength", "activationListLength",
    "enableTLS", "unsafeSsl", "databaseIndex",
}  # fmt: skip
SECRET_NAME = "twostep-secrets"


def validate(doc: Doc, version: str) -> None:
    """Strict validation: unknown fields are errors, as with ``kubectl --validate=strict``."""
    if doc["apiVersion"] == "keda.sh/v1alpha1":
        assert doc["kind"] == "ScaledObject"
        jsonschema.Draft202012Validator(KEDA_SCHEMA).validate(doc)
    else:
        kubernetes_validate.validate(doc, version, strict=True)


def _ids(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("doc", [without_origin(d) for d in manifests()], ids=_ids)
def test_every_object_is_valid_against_its_schema(doc: Doc, version: str) -> None:
    validate(doc, version)


def test_the_manifests_hold_what_the_deployment_needs() -> None:
    kinds = sorted(_ids(d) for d in manifests())
    assert kinds == [
        "ConfigMap/twostep-config",
        "Deployment/twostep-api",
        "Deployment/twostep-worker",
        "HorizontalPodAutoscaler/twostep-api",
        "PodDisruptionBudget/twostep-api",
        "PodDisruptionBudget/twostep-worker",
        "ScaledObject/twostep-worker",
        "Service/twostep-api",
        "Service/twostep-worker-metrics",
    ]


def _broken(kind: str, break_it: Any) -> Doc:
    (doc,) = [without_origin(d) for d in manifests() if d["kind"] == kind][:1]
    break_it(doc)
    return doc


@pytest.mark.parametrize(
    ("kind", "break_it"),
    [
        ("Deployment", lambda d: d["spec"]["template"]["spec"]["containers"][0].update(envfrom=[])),
        ("Deployment", lambda d: d["spec"].update(replicas="two")),
        ("HorizontalPodAutoscaler", lambda d: d["spec"].pop("maxReplicas")),
        ("ScaledObject", lambda d: d["spec"].update(minReplicas=1)),
        ("ScaledObject", lambda d: d["spec"]["triggers"][0].pop("type")),
        ("ScaledObject", lambda d: d["spec"]["triggers"][0]["metadata"].update(listLength=10)),
        ("ScaledObject", lambda d: d["spec"].update(maxReplicaCount="10")),
    ],
    ids=[
        "unknown-container-field",
        "replicas-not-a-number",
        "hpa-without-max",
        "scaledobject-unknown-field",
        "trigger-without-type",
        "trigger-metadata-not-a-string",
        "max-replicas-not-a-number",
    ],
)
def test_the_validation_refuses_a_broken_object(kind: str, break_it: Any) -> None:
    with pytest.raises((kubernetes_validate.ValidationError, jsonschema.ValidationError)):
        validate(_broken(kind, break_it), KUBERNETES_VERSIONS[-1])


def test_the_kustomization_applies_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in manifest_files())


@pytest.mark.integration  # a worker process of its own, and Compose
def test_the_worker_grace_outlasts_the_celery_task_time_limit() -> None:
    # workers.app sets up a worker process when imported (settings, logging, the metrics
    # directory), as `celery -A workers.app` does: ask a process of its own.
    asked = subprocess.run(
        [sys.executable, "-c", "import workers.app; print(workers.app.app.conf.task_time_limit)"],
        env=service_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    limit = int(asked.stdout.strip().splitlines()[-1])
    assert limit
    grace = one("Deployment", "twostep-worker")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]
    # Room for the job to be handed back and the broker connection closed after the limit.
    assert grace >= limit + 30
    stop_grace = compose_config()["services"]["worker"]["stop_grace_period"]
    minutes, seconds = re.fullmatch(r"(?:(\d+)m)?(\d+)s", stop_grace).groups()  # type: ignore[union-attr]
    assert int(minutes or 0) * 60 + int(seconds) >= limit + 30


async def test_the_api_probes_are_real_routes_that_answer() -> None:
    api = container("twostep-api")
    port = {p["name"]: p["containerPort"] for p in api["ports"]}
    probes = {kind: api[kind]["httpGet"] for kind in ("readinessProbe", "livenessProbe")}
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert all(port[probe["port"]] == 8080 for probe in probes.values())
    state = fakeredis.FakeAsyncRedis()
    app = create_app(make_settings(), redis=state, broker=state, mail=RecordingMailQueue())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://twostep.test"
    ) as client:
        for probe in (*probes.values(), api["startupProbe"]["httpGet"]):
            response = await client.get(probe["path"])
            assert response.status_code == 200, (probe, response.text)
    await state.aclose()
    # /readyz is the readiness probe because it fails while Redis is away (nothing listens on
    # port 1), where /healthz still answers.
    away = redis.asyncio.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    app_down = create_app(make_settings(), redis=away, broker=away, mail=RecordingMailQueue())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app_down), base_url="http://twostep.test"
    ) as down:
        assert (await down.get("/readyz")).status_code == 503
        assert (await down.get("/healthz")).status_code == 200
    await away.aclose()


def test_the_worker_metrics_port_is_the_one_the_worker_serves() -> None:
    worker = container("twostep-worker")
    (metrics,) = worker["ports"]
    assert metrics["containerPort"] == make_settings().worker_metrics_port
    config = one("ConfigMap", "twostep-config")["data"]
    assert int(config["TWOSTEP_WORKER_METRICS_PORT"]) == metrics["containerPort"]
    assert worker["livenessProbe"]["httpGet"]["port"] == metrics["name"]
    service = one("Service", "twostep-worker-metrics")["spec"]
    assert service["ports"][0]["targetPort"] == metrics["name"]


def test_the_scaled_object_watches_the_code_queue_on_the_broker() -> None:
    scaled = one("ScaledObject", "twostep-worker")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "twostep-worker"
    assert "kind" not in scaled["scaleTargetRef"]  # a Deployment, KEDA's default
    assert 1 <= scaled["minReplicaCount"] < scaled["maxReplicaCount"]
    triggers = scaled["triggers"]
    assert {t["type"] for t in triggers} == {"redis"}
    lists = [t["metadata"]["listName"] for t in triggers]
    assert lists[0] == CODE_QUEUE
    assert set(lists) <= {CODE_QUEUE, NOTICE_QUEUE}
    broker = urlsplit(one("ConfigMap", "twostep-config")["data"]["TWOSTEP_BROKER_URL"])
    for trigger in triggers:
        metadata = trigger["metadata"]
        assert set(metadata) <= REDIS_SCALER_KEYS
        assert metadata["address"] == f"{broker.hostname}:{broker.port}"
        assert metadata["databaseIndex"] == broker.path.strip("/")
        assert int(metadata["listLength"]) > 0


@pytest.mark.integration  # Compose
def test_each_container_runs_the_compose_image_and_command() -> None:
    services = compose_config()["services"]
    for deployment, service in (("twostep-api", "api"), ("twostep-worker", "worker")):
        spec = container(deployment)
        assert spec["image"] == services[service]["image"]
        assert spec["command"] == services[service]["command"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert services["api"]["image"] == f"twostep:{project['version']}"


def test_pods_run_as_the_image_user_on_a_read_only_root() -> None:
    (user,) = re.findall(r"^USER\s+(\d+):(\d+)\s*$", (ROOT / "Dockerfile").read_text(), re.M)
    for deployment in ("twostep-api", "twostep-worker"):
        pod = one("Deployment", deployment)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
            int(user[0]),
            int(user[1]),
        )
        spec = container(deployment)
        assert spec["securityContext"]["readOnlyRootFilesystem"] is True
        assert spec["securityContext"]["allowPrivilegeEscalation"] is False
        # What the processes write goes to emptyDirs: /tmp and the metrics folder.
        empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        mounts = {m["mountPath"]: m["name"] for m in spec["volumeMounts"]}
        env = {e["name"]: e["value"] for e in spec["env"]}
        assert mounts["/tmp"] in empty_dirs
        assert mounts[env["PROMETHEUS_MULTIPROC_DIR"]] in empty_dirs
        assert spec["resources"]["requests"]["cpu"]


def test_secrets_come_from_a_secret_the_operator_creates() -> None:
    assert not [d for d in manifests() if d["kind"] == "Secret"]
    config = one("ConfigMap", "twostep-config")["data"]
    assert not {"TWOSTEP_SECRET_KEY", "TWOSTEP_API_KEYS"} & set(config)
    for deployment in ("twostep-api", "twostep-worker"):
        sources = container(deployment)["envFrom"]
        assert {"configMapRef": {"name": "twostep-config"}} in sources
        assert {"secretRef": {"name": SECRET_NAME}} in sources
    assert f"create secret generic {SECRET_NAME}" in (K8S / "config.yaml").read_text()


def test_selectors_find_the_pods_they_are_for() -> None:
    for component in ("api", "worker"):
        labels = one("Deployment", f"twostep-{component}")["spec"]["template"]["metadata"]["labels"]
        selectors = [
            d["spec"]["selector"].get("matchLabels", d["spec"]["selector"])
            for d in manifests()
            if d["kind"] in ("Service", "PodDisruptionBudget", "Deployment")
            and d["metadata"]["labels"].get("app.kubernetes.io/component") == component
        ]
        assert len(selectors) == 3
        for selector in selectors:
            assert selector.items() <= labels.items()
    hpa = one("HorizontalPodAutoscaler", "twostep-api")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "twostep-api",
    }
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert 1 <= hpa["minReplicas"] < hpa["maxReplicas"]
    assert "replicas" not in one("Deployment", "twostep-worker")["spec"]  # KEDA owns it
