"""The deployment files, checked statically with the real tools, and against running services."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.bridge.settings import PROVIDERS, BridgeSettings
from services.registry import DEFINITIONS
from shared.contract.catalogue import CORE_SERVICE_NAMES
from shared.runtime.settings import CommonSettings, load_settings
from tests.support.services import running
from tools.devservers.ports import free_port

pytestmark = pytest.mark.acceptance
ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# The bridge through Twilio (the base), and through Telnyx (components/telnyx, on production).
TWILIO_TARGETS = ("deploy/k8s/base", "deploy/k8s/overlays/production")
TELNYX_TARGET = "deploy/k8s/overlays/production-telnyx"
# What an operator puts in place of a placeholder whose form the bridge checks at start.
STAND_INS = {"BATON_TELNYX_PUBLIC_KEY": base64.b64encode(bytes(range(32))).decode()}


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: `make tools` installs it (Debian package)"
    return path


def _run(*command: str) -> str:
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def test_compose_file_is_valid() -> None:
    _run(_tool("docker-compose"), "-f", "docker-compose.yml", "config", "-q")
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in (
        "postgres",
        "nats",
        "migrate",
        "assigner",
        "sender",
        "inbound",
        "reaper",
        "prometheus",
        "grafana",
    ):
        assert name in services
    for name in CORE_SERVICE_NAMES:
        assert services[name]["restart"] == "unless-stopped"
        assert "healthcheck" in services[name]
        # A service without a key to verify tokens with refuses to start.
        secret = services[name]["environment"]["BATON_AUTH_SECRET"]
        assert len(secret.encode()) >= 32 and "development" in secret
    assert "sync_interval: always" in (DEPLOY / "nats" / "nats.conf").read_text()


def test_prometheus_config_and_rules_are_valid() -> None:
    promtool = _tool("promtool")
    _run(promtool, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    out = _run(promtool, "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml"))
    rules = (DEPLOY / "prometheus" / "alerts.yml").read_text().count("- alert:")
    assert f"SUCCESS: {rules} rules found" in out


def test_the_alert_rules_pass_their_promtool_tests() -> None:
    """The provider bridge's carrier-filtering and signature alerts fire on the series the
    bridge exports and stay quiet below their thresholds (deploy/prometheus/alerts_test.yml)."""
    tests = DEPLOY / "prometheus" / "alerts_test.yml"
    out = _run(_tool("promtool"), "test", "rules", str(tests))
    assert "SUCCESS" in out
    named = set(re.findall(r"alertname: (\w+)", tests.read_text()))
    assert named == {"BatonBridgeCarrierFiltering", "BatonBridgeWebhookSignatureFailures"}


def _render(target: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(_run(_tool("kubectl"), "kustomize", target)))


@pytest.mark.parametrize("target", [*TWILIO_TARGETS, TELNYX_TARGET])
def test_kustomize_renders(target: str) -> None:
    documents = _render(target)
    kinds = sorted({d["kind"] for d in documents})
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Job",
        "PodDisruptionBudget",
        "PodMonitor",
        "Secret",
        "Service",  # the provider bridge's webhooks
    ]
    deployments = [d for d in documents if d["kind"] == "Deployment"]
    assert len(deployments) == 5
    config_maps = {d["metadata"]["name"]: d for d in documents if d["kind"] == "ConfigMap"}
    for deployment in deployments:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["resources"]["requests"]
        _verifies_with_mounted_public_keys(deployment, config_maps)


def _verifies_with_mounted_public_keys(
    deployment: dict[str, Any], config_maps: dict[str, dict[str, Any]]
) -> None:
    """BATON_AUTH_PUBLIC_KEYS names a file that a ConfigMap of the same render mounts."""
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    path = Path(env["BATON_AUTH_PUBLIC_KEYS"])
    mount = next(m for m in container["volumeMounts"] if Path(m["mountPath"]) == path.parent)
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert path.name in config_maps[volume["configMap"]["name"]]["data"]


@pytest.mark.parametrize(
    ("target", "provider"),
    [*((target, "twilio") for target in TWILIO_TARGETS), (TELNYX_TARGET, "telnyx")],
)
def test_the_bridge_is_deployed_with_its_providers_settings(
    target: str, provider: str, tmp_path: Path
) -> None:
    """The bridge's environment as the kubelet gives it, from the same render (literal values,
    the ConfigMap it takes whole, the Secret's keys, files mounted from the Secret) is accepted by
    the bridge's own settings loader for its provider, its credential read from the mounted
    file, and nothing of the other provider is left."""
    documents = _render(target)
    secret = {
        key: STAND_INS.get(key, value)
        for key, value in next(d for d in documents if d["kind"] == "Secret")["stringData"].items()
    }
    config_maps = {d["metadata"]["name"]: d for d in documents if d["kind"] == "ConfigMap"}
    [bridge] = [d for d in documents if d["metadata"]["name"] == "baton-bridge"
                and d["kind"] == "Deployment"]  # fmt: skip
    pod = bridge["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= config_maps[source["configMapRef"]["name"]]["data"]
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
            continue
        ref = entry["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "baton-secrets"
        if ref["key"] in secret:
            env[entry["name"]] = secret[ref["key"]]
        else:  # the pod would not start
            assert ref.get("optional") is True, f"{entry['name']}: the Secret has no {ref['key']}"
    for name in [n for n in env if n.endswith("_FILE")]:
        env[name] = str(_mounted_secret_file(pod, container, env[name], secret, tmp_path))
    settings = load_settings(BridgeSettings, env)
    assert settings.bridge_provider == provider
    if provider == "telnyx":
        assert settings.telnyx_key() == secret["BATON_TELNYX_API_KEY"]
        assert settings.telnyx_public_key == STAND_INS["BATON_TELNYX_PUBLIC_KEY"]
    else:
        assert settings.twilio_token() == secret["BATON_TWILIO_AUTH_TOKEN"]
    other = next(p for p in PROVIDERS if p != provider).upper()
    assert [n for n in [*env, *secret] if n.startswith(f"BATON_{other}_")] == []
    assert sorted(m["name"] for m in container["volumeMounts"]) == ["auth-keys", provider]


def _mounted_secret_file(
    pod: dict[str, Any], container: dict[str, Any], path: str, secret: dict[str, str], at: Path
) -> Path:
    """The file a volume of the Secret puts at `path`, written under `at` with the key's value."""
    mount = next(m for m in container["volumeMounts"] if Path(m["mountPath"]) == Path(path).parent)
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "baton-secrets"
    [item] = [i for i in volume["secret"]["items"] if i["path"] == Path(path).name]
    copy = at / Path(path).name
    copy.write_text(secret[item["key"]])
    return copy


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _dashboard_expressions() -> list[str]:
    """Every query of every panel of every dashboard Grafana is given (rows hold none)."""
    expressions = []
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["targets"], f"{path.name}: panel {panel['title']!r} queries nothing"
            expressions += [t["expr"] for t in panel["targets"]]
    return expressions


def _metric_names(text: str) -> set[str]:
    return set(re.findall(r"\bbaton_[a-z_]+", text))


def _metric_names_used() -> set[str]:
    """Every baton_* series the alert rules and the dashboards query."""
    texts = [(DEPLOY / "prometheus" / "alerts.yml").read_text(), *_dashboard_expressions()]
    return {name for text in texts for name in _metric_names(text)}


def test_every_dashboard_query_names_a_baton_metric() -> None:
    """A query naming none would pass the check below with nothing checked."""
    expressions = _dashboard_expressions()
    assert [e for e in expressions if not _metric_names(e)] == []
    # The provider bridge's panels (issue #31) are among them.
    bridge = {name for e in expressions for name in _metric_names(e) if "_bridge_" in name}
    assert bridge >= {
        "baton_bridge_texts_total",
        "baton_bridge_provider_call_seconds_bucket",
        "baton_bridge_number_rate",
        "baton_bridge_number_backlog",
        "baton_bridge_webhook_rejected_total",
        "baton_bridge_spooled",
    }


async def test_every_metric_in_alerts_and_dashboard_is_exported(settings: CommonSettings) -> None:
    exported: set[str] = set()
    for definition in DEFINITIONS:
        port = free_port()
        async with running(definition, settings, metrics_port=port):
            # The probe server shares this event loop: fetch from another thread.
            text = await asyncio.to_thread(_fetch, f"http://127.0.0.1:{port}/metrics")
        exported |= set(re.findall(r"^# TYPE (baton_[a-z_]+) ", text, re.MULTILINE))
    used = _metric_names_used()
    assert used, "found no metrics in the alert rules and dashboard"
    # Histograms are exported as _bucket/_sum/_count series of their base name.
    missing = {name for name in used if re.sub(r"_(bucket|sum|count)$", "", name) not in exported}
    assert missing == set()
