"""docker-compose.yml: the ops profile (Flower, Prometheus) and what it scrapes, as Compose v2
resolves the file."""

from __future__ import annotations

import pytest
import yaml

from shared.errors import ConfigError
from shared.settings import load_settings
from tests.api_calls import make_settings
from tests.deploy.manifests import PROMETHEUS_CONFIG, compose_config

# Each test asks the real Compose v2 binary (a process) to resolve the file.
pytestmark = pytest.mark.integration

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


def test_every_published_port_is_bound_to_loopback_only() -> None:
    services = compose_config("--profile", "ops")["services"]
    published = [
        (name, port) for name, service in services.items() for port in service.get("ports", [])
    ]
    assert published, "the portal, the API and the mail catcher are published"
    for name, port in published:
        assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond loopback"


def test_the_compose_files_sample_keys_start_nothing_without_its_development_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environment = compose_config()["services"]["api"]["environment"]
    for variable, value in environment.items():
        if variable.startswith("TWOSTEP_"):
            monkeypatch.setenv(variable, value)
    assert load_settings().allow_sample_keys  # as compose runs it: a developer's machine
    monkeypatch.delenv("TWOSTEP_ALLOW_SAMPLE_KEYS")
    with pytest.raises(ConfigError, match="sample key") as refused:
        load_settings()
    assert environment["TWOSTEP_SECRET_KEY"] not in str(refused.value)
    # Either sample key alone is refused.
    monkeypatch.setenv("TWOSTEP_SECRET_KEY", "an-operator's-own-secret-key-0123456789")
    with pytest.raises(ConfigError, match="TWOSTEP_API_KEYS"):
        load_settings()
    monkeypatch.setenv("TWOSTEP_API_KEYS", "an-operator's-own-api-key")
    assert not load_settings().allow_sample_keys


def test_the_demo_stack_speaks_in_the_demo_portals_name(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = compose_config()["services"]["worker"]["environment"]
    for variable, value in environment.items():
        if variable.startswith("TWOSTEP_"):
            monkeypatch.setenv(variable, value)
    settings = load_settings()
    assert settings.product_name == "Example portal"
    assert settings.issuer == "Example portal"
    assert settings.mail_from.startswith('"Example portal" <')
