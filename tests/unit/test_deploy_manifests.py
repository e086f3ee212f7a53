"""What ships beside the code: the Kubernetes manifests (rendered with `kubectl kustomize`
and validated against the Kubernetes schemas), the Compose stack (`docker-compose config`),
the Containerfile and its lock, all checked against the code they deploy: every SITOO_BR_*
name they use is a setting of runtime/settings.py, every `_FILE` setting points into a
mounted Secret, the relays keep to the Bloomreach budget, the drain fits the grace period."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from runtime.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
COMPOSE = ROOT / "deploy" / "compose"
KUBERNETES_VERSION = "1.30.0"  # the oldest minor still supported upstream when this was written
# Kinds of the Prometheus Operator: not in the Kubernetes schemas.
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}
PRE_STOP_SECONDS = 5


def require_tool(name: str) -> str:
    """The tool's path; missing tools skip locally but fail in CI, which installs them."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing (scripts/install_image_tools.sh installs the tools)")
        pytest.skip(f"{name} is not installed")
    return path


def kustomizations() -> list[Path]:
    """Every directory that kustomize builds on its own (components are built through them)."""
    found = []
    for path in sorted(KUBERNETES.rglob("kustomization.yaml")):
        if yaml.safe_load(path.read_text()).get("kind") == "Kustomization":
            found.append(path.parent)
    return found


_rendered: dict[Path, list[dict[str, Any]]] = {}


def render(directory: Path) -> list[dict[str, Any]]:
    if directory not in _rendered:
        kubectl = require_tool("kubectl")
        result = subprocess.run(
            [kubectl, "kustomize", str(directory)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        _rendered[directory] = [d for d in yaml.safe_load_all(result.stdout) if d]
    return _rendered[directory]


def overlay_ids() -> list[str]:
    return [str(d.relative_to(KUBERNETES)) for d in kustomizations()]


def containers(resources: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(pod spec, container) of every workload."""
    for resource in resources:
        if resource["kind"] in {"Deployment", "Job"}:
            pod = resource["spec"]["template"]["spec"]
            for container in pod["containers"]:
                yield pod, container


def env_value(container: dict[str, Any], name: str) -> str | None:
    for item in container.get("env", []):
        if item["name"] == name:
            value: str | None = item.get("value")
            return value
    return None


def test_the_overlays_are_the_ones_documented() -> None:
    assert overlay_ids() == [
        "base",
        "base/migrate",
        "overlays/production",
        "overlays/production/migrate",
    ]


@pytest.mark.parametrize("overlay", overlay_ids())
def test_each_overlay_renders_and_validates_against_the_kubernetes_schemas(overlay: str) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    resources = render(KUBERNETES / overlay)
    assert resources
    for resource in resources:
        if resource["kind"] in OPERATOR_KINDS:
            assert resource["apiVersion"] == "monitoring.coreos.com/v1"
            assert resource["spec"]
            continue
        # Strict: an unknown or misplaced field (a typo) fails, not just a wrong type. The
        # oldest supported version and the newest the validator knows (removed APIs).
        for version in (KUBERNETES_VERSION, kubernetes_validate.latest_version()):
            kubernetes_validate.validate(resource, version, strict=True)


def test_the_validator_rejects_a_misspelt_field() -> None:
    """The schema check above can fail: a container with a typo does not pass."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    deployment = next(r for r in render(KUBERNETES / "base") if r["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def _setting_names() -> set[str]:
    return {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {
        ENV_PREFIX + "SETTINGS_FILE"
    }


def _deploy_files() -> list[Path]:
    files = [p for p in (ROOT / "deploy").rglob("*") if p.is_file() and p.suffix != ".json"]
    files += [ROOT / "Containerfile", ROOT / "docs" / "deploy.md"]
    return [p for p in files if p.exists()]


def test_every_setting_a_deploy_file_names_exists_in_runtime_settings() -> None:
    """Read from runtime/settings.py now, so settings added by anyone are known here."""
    known = _setting_names()
    used: dict[str, set[str]] = {}
    for path in _deploy_files():
        # A trailing `_*` is a family (SITOO_BR_CORE_TLS_*), not a name.
        for name in re.findall(r"SITOO_BR_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_]*\*)", path.read_text()):
            used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    unknown = {name: sorted(paths) for name, paths in used.items() if name not in known}
    assert not unknown, f"not settings in runtime/settings.py: {unknown}"
    # And the check sees the manifests at all.
    assert "SITOO_BR_DATABASE_URL" in used
    assert "SITOO_BR_BLOOMREACH_REQUESTS_PER_SECOND" in used


def test_the_settings_check_catches_a_name_settings_py_lacks() -> None:
    assert "SITOO_BR_CORE_TLS_CERT_FILE" in _setting_names()
    assert "SITOO_BR_CORE_TLS_CERTFILE" not in _setting_names()


@pytest.mark.parametrize("overlay", overlay_ids())
def test_secrets_are_files_from_mounted_secrets(overlay: str) -> None:
    """Each `*_FILE` setting names a key of a Secret mounted read-only in that container."""
    for pod, container in containers(render(KUBERNETES / overlay)):
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
        for item in container.get("env", []):
            name = item["name"]
            if not name.endswith("_FILE"):
                assert not re.search(r"TOKEN$|KEY$|SECRET|PASSWORD", name), name
                continue
            path = Path(item["value"])
            mount = mounts.get(str(path.parent))
            assert mount is not None, f"{container['name']}: {name}={path} is not mounted"
            assert mount.get("readOnly") is True
            secret = volumes[mount["name"]].get("secret")
            assert secret is not None, f"{name} does not come from a Secret"
            items = secret.get("items")
            if items is not None:
                assert path.name in {i["path"] for i in items}, f"{name}: {path.name} not projected"


def test_the_edge_and_console_see_only_their_own_token() -> None:
    resources = render(KUBERNETES / "overlays" / "production")
    for pod, container in containers(resources):
        tokens = [
            v["secret"]
            for v in pod.get("volumes", [])
            if v.get("secret", {}).get("secretName") == "sitoo-bloomreach-tokens"
        ]
        projected = {i["key"] for t in tokens for i in t.get("items", [])}
        if container["name"] == "edge":
            assert projected == {"service.token"}
        if container["name"] == "console":
            assert projected == {"admin.token"}


@pytest.mark.parametrize("overlay", ["base", "overlays/production"])
def test_relays_divide_the_bloomreach_budget(overlay: str) -> None:
    resources = render(KUBERNETES / overlay)
    relay = next(r for r in resources if r["metadata"]["name"] == "sitoo-bloomreach-relay")
    budget = float(relay["metadata"]["annotations"]["sitoo-bloomreach/bloomreach-budget-rps"])
    container = relay["spec"]["template"]["spec"]["containers"][0]
    rate = float(env_value(container, "SITOO_BR_BLOOMREACH_REQUESTS_PER_SECOND") or "nan")
    replicas = relay["spec"]["replicas"]
    assert replicas * rate <= budget
    assert rate >= budget / replicas * 0.9, "the budget is left unused"
    # Never more relays than the budget was divided for: no surge, no autoscaler.
    assert relay["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0
    scaled = {
        r["spec"]["scaleTargetRef"]["name"]
        for r in resources
        if r["kind"] == "HorizontalPodAutoscaler"
    }
    assert scaled <= {"sitoo-bloomreach-edge"}


def test_production_runs_several_edges_cores_and_relays() -> None:
    resources = render(KUBERNETES / "overlays" / "production")
    by_name = {(r["kind"], r["metadata"]["name"]): r for r in resources}
    assert by_name[("Deployment", "sitoo-bloomreach-core")]["spec"]["replicas"] >= 2
    assert by_name[("Deployment", "sitoo-bloomreach-relay")]["spec"]["replicas"] >= 2
    hpa = by_name[("HorizontalPodAutoscaler", "sitoo-bloomreach-edge")]
    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in by_name[("Deployment", "sitoo-bloomreach-edge")]["spec"]
    for component in ("edge", "core", "relay", "console"):
        assert ("PodDisruptionBudget", f"sitoo-bloomreach-{component}") in by_name
    assert ("Deployment", "sitoo-bloomreach-console") in by_name
    assert {"ServiceMonitor", "PrometheusRule"} <= {kind for kind, _ in by_name}


def test_production_and_its_migration_run_the_same_image() -> None:
    def images(overlay: str) -> set[str]:
        return {c["image"] for _, c in containers(render(KUBERNETES / overlay))}

    production = images("overlays/production")
    assert len(production) == 1
    assert images("overlays/production/migrate") == production
    assert ":" in next(iter(production))


@pytest.mark.parametrize("overlay", overlay_ids())
def test_workloads_run_locked_down_with_measured_resources(overlay: str) -> None:
    for pod, container in containers(render(KUBERNETES / overlay)):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001  # the Containerfile's user
        assert pod["automountServiceAccountToken"] is False
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) <= set(resources["limits"])


def _mebibytes(quantity: str) -> float:
    number = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    assert number is not None, quantity
    return int(number[1]) * (1024 if number[2] == "Gi" else 1)


def test_memory_requests_cover_the_measured_rss() -> None:
    """BENCHMARKS.md: edge 110 MB, core 118 MB, relay 129 MB; console 110 MB idle."""
    measured_mb = {"edge": 110, "core": 118, "relay": 129, "console": 110}
    for _, container in containers(render(KUBERNETES / "overlays" / "production")):
        if container["name"] not in measured_mb:
            continue
        request = _mebibytes(container["resources"]["requests"]["memory"])
        limit = _mebibytes(container["resources"]["limits"]["memory"])
        rss_mib = measured_mb[container["name"]] * 1e6 / 2**20
        assert request >= rss_mib * 1.2, container["name"]
        assert limit >= 2 * rss_mib, container["name"]


def test_probes_and_graceful_termination() -> None:
    resources = render(KUBERNETES / "overlays" / "production")
    config = next(r for r in resources if r["kind"] == "ConfigMap")["data"]
    drain = float(config["SITOO_BR_SHUTDOWN_GRACE_SECONDS"])
    probes: dict[str, dict[str, Any]] = {}
    for pod, container in containers(resources):
        if container["name"] == "migrate":
            continue
        probes[container["name"]] = container
        pre_stop = container.get("lifecycle", {}).get("preStop")
        waited = PRE_STOP_SECONDS if pre_stop else 0
        if pre_stop:
            assert pre_stop["exec"]["command"] == ["sleep", str(PRE_STOP_SECONDS)]
        assert pod["terminationGracePeriodSeconds"] >= waited + drain + 5, container["name"]
    assert probes["edge"]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert probes["edge"]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["core"]["readinessProbe"]["exec"]["command"] == [
        "python3",
        "-m",
        "cli.probe",
        "core",
    ]
    assert probes["console"]["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert "livenessProbe" in probes["relay"]


def test_only_the_edge_is_open_and_only_named_clients_reach_the_core() -> None:
    resources = render(KUBERNETES / "overlays" / "production")
    policies = {r["metadata"]["name"]: r for r in resources if r["kind"] == "NetworkPolicy"}
    deny = policies["sitoo-bloomreach-default-deny"]["spec"]
    assert deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    core = policies["sitoo-bloomreach-core"]["spec"]["ingress"]
    assert len(core) == 1
    allowed = [peer["podSelector"]["matchLabels"] for peer in core[0]["from"]]
    components = {labels.get("app.kubernetes.io/component") for labels in allowed}
    assert components == {"edge", "console", None}
    assert {"sitoo-bloomreach/core-client": "true"} in allowed
    # Every rule but the edge's names its peers.
    for name, policy in policies.items():
        for rule in policy["spec"].get("ingress", []):
            if name != "sitoo-bloomreach-edge":
                assert rule.get("from"), name
    ingresses = [r for r in resources if r["kind"] == "Ingress"]
    backends = {
        path["backend"]["service"]["name"]
        for ingress in ingresses
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {"sitoo-bloomreach-edge"}


def test_the_prometheus_rule_is_generated_from_the_alert_rules() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_kubernetes_rules.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    rule = yaml.safe_load(
        (KUBERNETES / "components" / "monitoring" / "prometheusrule.yaml").read_text()
    )
    alerts = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]


def test_the_compose_stack_is_valid(tmp_path: Path) -> None:
    docker_compose = require_tool("docker-compose")
    result = subprocess.run(
        [
            docker_compose,
            "--env-file",
            str(COMPOSE / "env.example"),
            "-f",
            str(COMPOSE / "compose.yaml"),
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stack = yaml.safe_load(result.stdout)
    services = stack["services"]
    for role, count in (("edge", 2), ("core", 2), ("relay", 2)):
        assert len([s for s in services if s.startswith(f"{role}-")]) == count
    assert {"postgres", "console", "prometheus", "grafana", "migrate"} <= set(services)
    relay_rates = [
        float(services[s]["environment"]["SITOO_BR_BLOOMREACH_REQUESTS_PER_SECOND"])
        for s in services
        if s.startswith("relay-")
    ]
    assert sum(relay_rates) <= 50
    for name in ("core-1", "relay-1", "edge-1", "console"):
        conditions = services[name].get("depends_on", {})
        assert conditions, name
    assert services["core-1"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_the_compose_stack_refuses_to_start_without_a_database_password(tmp_path: Path) -> None:
    docker_compose = require_tool("docker-compose")
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    no_password = tmp_path / "env"
    no_password.write_text("GRAFANA_ADMIN_PASSWORD=x\n")
    compose = str(COMPOSE / "compose.yaml")
    result = subprocess.run(
        [docker_compose, "--env-file", str(no_password), "-f", compose, "config"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_image_lock_pins_what_ci_tests() -> None:
    """deploy/container/requirements.lock = the versions in this .venv, and it honours every
    pin of pyproject.toml (scripts/lock_image_requirements.py rewrites it)."""
    lock = {}
    for line in (ROOT / "deploy" / "container" / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            lock[_canonical(name)] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==([^;\s]+)", requirement)
        assert match is not None, f"not pinned exactly: {requirement}"
        assert lock.get(_canonical(match[1])) == match[2], requirement
    for name, version in lock.items():
        assert metadata.version(name) == version, f"{name}: lock {version}, .venv differs"


def test_the_containerfile_keeps_the_promises_of_its_header() -> None:
    text = (ROOT / "Containerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    assert len(stages) == 2
    final = stages[-1]
    assert re.search(r"^USER 10001:10001$", final, re.MULTILINE)
    assert 'ENTRYPOINT ["sitoo-bloomreach"]' in final
    for label in ("version", "revision", "created", "title"):
        assert f"org.opencontainers.image.{label}=" in final
    # The final stage copies the built venv only: no sources, no tests, no compiler.
    copies = re.findall(r"^COPY .*$", final, re.MULTILINE)
    assert copies == ["COPY --from=build /opt/sitoo-bloomreach /opt/sitoo-bloomreach"]
    assert "apt-get" not in text
    assert "tests" not in re.findall(r"^COPY (\S+)", text, re.MULTILINE)
    assert "ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm" in text
