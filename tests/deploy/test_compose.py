"""docker-compose.yml: the ops profile (Flower, Prometheus) and what it scrapes, as Compose v2
resolves the file."""

from __future__ import annotations

import yaml

from tests.conftest import make_settings
from tests.deploy.manifests import PROMETHEUS_CONFIG, compose_config

OPS = {"flower", "prometheus"}
MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"


def test_the_ops_profile_adds_flower_and_prometheus_only_when_asked() -> None:
    plain = set(compose_config()["services"])
    with_ops = set(compose_config("--profile", "ops")["services"])
    assert not plain & OPS
    assert with_ops == plain | OPS


def test_flower_watches_the_broker_the_workers_use() -> None:
    services = compose_config("--profile", "ops")["services"]
    broker = services["worker"]["environment"]["TWOSTEP_BROKER_URL"]
    command = services["flower"]["command"]
    assert f"--broker={broker}" in command
    assert command[command.index(f"--broker={broker}") + 1] == "flower"
    assert services["flower"]["ports"][0]["target"] == 5555


def test_prometheus_scrapes_the_api_and_every_worker_where_they_serve_metrics() -> None:
    services = compose_config("--profile", "ops")["services"]
    (mount,) = services["prometheus"]["volumes"]
    assert mount["source"] == str(PROMETHEUS_CONFIG)
    assert mount["target"] == "/etc/prometheus/prometheus.yml"
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api_port = services["api"]["ports"][0]["target"]
    assert api_port == int(services["api"]["command"][-1])  # uvicorn --port
    worker_port = int(services["worker"]["environment"]["TWOSTEP_WORKER_METRICS_PORT"])
    assert worker_port == make_settings().worker_metrics_port
    assert str(worker_port) in services["worker"]["expose"]
    targets = [("twostep-api", "api", api_port), ("twostep-worker", "worker", worker_port)]
    for job, service, port in targets:
        (sd,) = jobs[job]["dns_sd_configs"]
        # DNS discovery: Compose's DNS answers with every replica of the service.
        assert (sd["names"], sd["type"], sd["port"]) == ([service], "A", port)
        assert jobs[job]["metrics_path"] == "/metrics"


def test_the_api_and_worker_get_an_empty_multiprocess_metrics_folder() -> None:
    services = compose_config()["services"]
    for name in ("api", "worker"):
        service = services[name]
        assert service["environment"][MULTIPROC] in service["tmpfs"]
