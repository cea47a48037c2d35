"""The deployment files under deploy/ checked against the code they deploy.

Structural checks always run: every YAML file parses; probes and healthchecks use routes the services
really serve; every command is a real `earlywarning` command; every EW_ variable is a setting (and its
value passes the settings' validation); Prometheus scrapes the compose services on their ports; alerts
use only series of shared/metrics.py with their labels; Deployments, Services, PodDisruptionBudgets and
the HPA fit together; the Dockerfile's files exist and reach the build context; the operations guide names
only real commands, files, alerts, groups and resources. Where promtool, docker compose, kubectl,
kubeconform, kubernetes-validate or hadolint are installed, they check the files too; without them those
tests are skipped (and counted as skipped), never passed.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.cli import app as cli_app
from services.notifier.consumer import GROUP_ID as NOTIFIER_GROUP
from services.notifier.mail import parse_smtp_url
from services.runner import DEFAULT_PORTS, create_app
from services.signals.consumer import GROUP_ID as SIGNALS_GROUP
from shared.bus.dlq import REPLAY_GROUP
from shared.bus.worker import DLQ_HEADERS
from shared.settings import Settings
from shared.topics import ALL_TOPICS, dlq_topic

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
PROMETHEUS = DEPLOY / "prometheus"
COMPOSE_FILE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
GUIDE = DEPLOY / "README.md"
SERVICES = ("ingest", "signals", "notifier")
SECRET_NAME = "earlywarning-secrets"
IMAGE = "earlywarning"
# Series Prometheus itself adds for every target.
PROMETHEUS_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
TARGET_LABELS = frozenset({"job", "instance"})


# -- reading the files ----------------------------------------------------------------------------


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())


def load_documents(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def load_mapping(path: Path) -> dict[str, Any]:
    docs = load_documents(path)
    assert len(docs) == 1, f"{path}: one YAML document expected"
    assert isinstance(docs[0], dict), f"{path}: a YAML mapping expected"
    return docs[0]


@cache
def compose() -> dict[str, Any]:
    return load_mapping(COMPOSE_FILE)


def compose_services() -> dict[str, Any]:
    services = compose()["services"]
    assert isinstance(services, dict)
    return services


@cache
def kustomization() -> dict[str, Any]:
    return load_mapping(K8S / "kustomization.yaml")


@dataclass(frozen=True)
class Resource:
    file: str
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc["kind"])

    @property
    def name(self) -> str:
        return str(self.doc["metadata"]["name"])


@cache
def k8s_resources() -> tuple[Resource, ...]:
    """Every resource that `kubectl apply -k deploy/k8s` applies."""
    return tuple(
        Resource(name, doc) for name in kustomization()["resources"] for doc in load_documents(K8S / name)
    )


def k8s_of(kind: str) -> dict[str, dict[str, Any]]:
    return {r.name: r.doc for r in k8s_resources() if r.kind == kind}


@cache
def secret_template() -> dict[str, Any]:
    return load_mapping(K8S / "secret.template.yaml")


@cache
def configmap() -> dict[str, str]:
    (config,) = k8s_of("ConfigMap").values()
    data = config["data"]
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"
    return dict(data)


def workloads() -> dict[str, dict[str, Any]]:
    """The pod templates that run the image: Deployments and the Job."""
    return {**k8s_of("Deployment"), **k8s_of("Job")}


def pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def container(workload: Mapping[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(workload)["containers"]
    assert isinstance(only, dict)
    return only


# -- the code's side: settings, routes, commands, metrics ------------------------------------------


@cache
def setting_names() -> frozenset[str]:
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return frozenset(prefix + name.upper() for name in Settings.model_fields)


@cache
def secret_settings() -> frozenset[str]:
    """EW_ variables whose setting is a SecretStr, plus the database URL (it holds the password)."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    names = {
        prefix + name.upper()
        for name, info in Settings.model_fields.items()
        if info.annotation is SecretStr or SecretStr in typing.get_args(info.annotation)
    }
    assert names, "Settings has no SecretStr fields any more: revisit this test"
    return frozenset({*names, "EW_DATABASE_URL"})


def validate_settings(env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings read from exactly these variables, as a process started with them reads them."""
    for name in list(os.environ):
        if name.upper().startswith("EW_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


@cache
def served_paths(service: str) -> frozenset[str]:
    """GET paths of the service's app, from its OpenAPI document."""
    app = create_app(Settings(_env_file=None), [service])
    return frozenset(path for path, ops in app.openapi()["paths"].items() if "get" in ops)


@cache
def status_without_infrastructure(service: str, path: str) -> int:
    """The status the service's app answers for `path` before it has opened the database or the bus."""
    client = TestClient(create_app(Settings(_env_file=None), [service]))  # no lifespan: nothing opened
    status: int = client.get(path).status_code
    return status


def assert_served(service: str, path: str) -> None:
    assert path in served_paths(service), f"{service} serves no GET {path}"
    assert status_without_infrastructure(service, path) != 404, f"{service}: GET {path} is a 404"


@dataclass(frozen=True)
class Invocation:
    path: tuple[str, ...]
    params: dict[str, Any]


def resolve_command(args: Sequence[str]) -> Invocation:
    """Parse `earlywarning ARGS` as the CLI would, without running it; AssertionError when invalid."""
    command: Any = typer.main.get_command(cli_app)
    path = ["earlywarning"]
    rest = list(args)
    while getattr(command, "commands", None) is not None and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        sub = command.commands.get(name)
        assert sub is not None, f"no command `{' '.join([*path, name])}`"
        command = sub
        path.append(name)
    if getattr(command, "commands", None) is not None:
        assert rest in ([], ["--help"]), f"`{' '.join(path)}` needs a sub-command, got {rest}"
        return Invocation(tuple(path[1:]), {})
    if "--help" in rest:
        return Invocation(tuple(path[1:]), {})
    try:
        context = command.make_context(" ".join(path), rest)
    except Exception as exc:  # the CLI's usage errors
        raise AssertionError(f"`{' '.join([*path, *rest])}` is not a valid command: {exc}") from exc
    return Invocation(tuple(path[1:]), dict(context.params))


def assert_command_path(words: Sequence[str]) -> None:
    """The leading words name a command (the arguments after it are not checked)."""
    command: Any = typer.main.get_command(cli_app)
    path = ["earlywarning"]
    for word in words:
        if getattr(command, "commands", None) is None or not re.fullmatch(r"[a-z][a-z-]*", word):
            return  # a leaf command's arguments, an option, or a placeholder (TOPIC, ...)
        command = command.commands.get(word)
        path.append(word)
        assert command is not None, f"no command `{' '.join(path)}`"


def serve_port(invocation: Invocation) -> int:
    port = invocation.params.get("port")
    if port is not None:
        return int(port)
    return DEFAULT_PORTS[str(invocation.params["service"].value)]


@dataclass(frozen=True)
class Metric:
    kind: str
    name: str
    labels: tuple[str, ...]

    def series(self) -> dict[str, frozenset[str]]:
        """The series names it exposes, each with its labels."""
        labels = frozenset(self.labels)
        if self.kind == "Counter":
            base = self.name.removesuffix("_total")
            return {f"{base}_total": labels, f"{base}_created": labels}
        if self.kind == "Histogram":
            return {
                f"{self.name}_bucket": labels | {"le"},
                f"{self.name}_sum": labels,
                f"{self.name}_count": labels,
                f"{self.name}_created": labels,
            }
        if self.kind == "Summary":
            return {
                self.name: labels | {"quantile"},
                f"{self.name}_sum": labels,
                f"{self.name}_count": labels,
                f"{self.name}_created": labels,
            }
        return {self.name: labels}


@cache
def declared_metrics() -> tuple[Metric, ...]:
    """The metrics of shared/metrics.py, read from its source."""
    tree = ast.parse((REPO / "shared" / "metrics.py").read_text(encoding="utf-8"))
    found: list[Metric] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id not in {"Counter", "Gauge", "Histogram", "Summary"}:
            continue
        name = node.args[0]
        assert isinstance(name, ast.Constant)
        assert isinstance(name.value, str)
        labels_node: ast.expr | None = node.args[2] if len(node.args) > 2 else None
        for keyword in node.keywords:
            if keyword.arg == "labelnames":
                labels_node = keyword.value
        labels: tuple[str, ...] = ()
        if labels_node is not None:
            assert isinstance(labels_node, ast.List | ast.Tuple)
            labels = tuple(str(ast.literal_eval(item)) for item in labels_node.elts)
        found.append(Metric(node.func.id, name.value, labels))
    assert found, "no metric found in shared/metrics.py"
    return tuple(found)


@cache
def exported_series() -> dict[str, frozenset[str]]:
    series: dict[str, frozenset[str]] = {}
    for metric in declared_metrics():
        series.update(metric.series())
    return series


@cache
def recorded_delivery_statuses() -> frozenset[str]:
    """String literals in the notifier modules that increment `ew_deliveries_total` (DELIVERIES)."""
    literals: set[str] = set()
    for path in (REPO / "services" / "notifier").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        if "DELIVERIES.labels(" not in source:
            continue
        literals |= {
            node.value
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
    assert {"failed", "delivered"} <= literals
    return frozenset(literals)


# -- a small PromQL reader: the series, label matchers and grouping labels of an expression --------

PROMQL_FUNCTIONS = frozenset(
    {
        "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp", "clamp_max",
        "clamp_min", "count_over_time", "delta", "deriv", "exp", "floor", "histogram_quantile", "idelta",
        "increase", "irate", "label_replace", "last_over_time", "max_over_time", "min_over_time",
        "predict_linear", "quantile_over_time", "rate", "resets", "round", "scalar", "sort", "sort_desc",
        "sum_over_time", "time", "timestamp", "vector",
        "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
        "count_values", "group",
    }
)  # fmt: skip
PROMQL_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}
)
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(
    r"""\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*,?"""
)
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_IDENTIFIER = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


@dataclass
class PromQL:
    series: set[str] = field(default_factory=set)
    matchers: list[tuple[str, str, str, str]] = field(default_factory=list)  # series, label, op, value
    grouping: set[str] = field(default_factory=set)


def read_promql(expr: str) -> PromQL:
    found = PromQL()

    def selector(match: re.Match[str]) -> str:
        name, body = match.group(1) or "", match.group(2)
        position = 0
        while position < len(body.strip()):
            matcher = _MATCHER.match(body, position)
            assert matcher is not None, f"cannot read the label matchers {{{body}}} in {expr!r}"
            value = matcher.group(3) if matcher.group(3) is not None else matcher.group(4)
            found.matchers.append((name, matcher.group(1), matcher.group(2), value))
            position = matcher.end()
        return f" {name} "

    rest = _SELECTOR.sub(selector, expr)
    rest = re.sub(r"\[[^\]]*\]", " ", rest)  # range and subquery durations
    for match in _GROUPING.finditer(rest):
        found.grouping |= {label.strip() for label in match.group(2).split(",") if label.strip()}
    rest = _GROUPING.sub(" ", rest)
    for match in _IDENTIFIER.finditer(rest):
        name, call = match.group(1), match.group(2)
        if name.lower() in PROMQL_KEYWORDS:
            continue
        if call:
            assert name in PROMQL_FUNCTIONS, f"unknown PromQL function {name}() in {expr!r}"
        else:
            found.series.add(name)
    found.series |= {name for name, *_ in found.matchers if name}
    return found


def test_the_promql_reader_finds_series_matchers_and_labels() -> None:
    found = read_promql(
        'sum by (channel) (rate(ew_deliveries_total{status="failed", channel=~"web.*"}[5m])) '
        "/ on (channel) group_left sum by (channel) (rate(ew_deliveries_total[5m])) > 0.5 "
        "unless absent(up{job='x'}) and 1e3 < bool 2"
    )
    assert found.series == {"ew_deliveries_total", "up"}
    assert ("ew_deliveries_total", "status", "=", "failed") in found.matchers
    assert ("ew_deliveries_total", "channel", "=~", "web.*") in found.matchers
    assert found.grouping == {"channel"}
    with pytest.raises(AssertionError, match="unknown PromQL function"):
        read_promql("summ(ew_bus_consumer_lag)")


# -- every YAML file ------------------------------------------------------------------------------


def test_deploy_has_the_expected_files() -> None:
    for relative in (
        "Dockerfile",
        "compose.yaml",
        ".env.example",
        "README.md",
        "prometheus/prometheus.yml",
        "prometheus/alerts.yml",
        "prometheus/alerts.test.yml",
        "k8s/kustomization.yaml",
        "k8s/secret.template.yaml",
    ):
        assert (DEPLOY / relative).is_file(), f"deploy/{relative} is missing"
    assert (REPO / ".dockerignore").is_file()


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    docs = load_documents(path)
    assert docs, f"{path} is empty"
    assert all(isinstance(doc, dict) for doc in docs), f"{path}: every document must be a mapping"


def test_every_ew_variable_is_a_setting() -> None:
    named: dict[str, set[str]] = {}

    def note(name: str, where: str) -> None:
        if name.upper().startswith("EW_"):
            named.setdefault(name, set()).add(where)

    for service, spec in compose_services().items():
        for name in environment(spec):
            note(name, f"compose {service}")
    for name in configmap():
        note(name, "ConfigMap")
    for name in secret_template()["stringData"]:
        note(name, "Secret template")
    for workload_name, workload in workloads().items():
        for variable in container(workload).get("env", []):
            note(variable["name"], f"k8s {workload_name}")
    for name in dotenv(DEPLOY / ".env.example"):
        note(name, ".env.example")
    assert named, "no EW_ variable found in deploy/"
    unknown = {name: sorted(where) for name, where in named.items() if name not in setting_names()}
    assert not unknown, f"not settings of shared/settings.py: {unknown}"


# -- Dockerfile and .dockerignore -----------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        value = json.loads(self.args)
        assert isinstance(value, list), f"{self.keyword} {self.args}: use the exec (JSON) form"
        return [str(v) for v in value]


def dockerfile_instructions() -> list[Instruction]:
    instructions: list[Instruction] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def dockerfile_stages() -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for instruction in dockerfile_instructions():
        if instruction.keyword == "FROM":
            stages.append([])
        assert stages, "the Dockerfile must start with FROM (after comments)"
        stages[-1].append(instruction)
    return stages


def copy_sources(instruction: Instruction) -> list[str]:
    words = shlex.split(instruction.args)
    words = [w for w in words if not w.startswith("--")]
    return words[:-1]


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, pattern) in file order, with Docker's matching: `*` within a path segment, `**` across."""
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line.removeprefix("!").strip().lstrip("/"))
        regex = ""
        position = 0
        while position < len(pattern):
            if pattern.startswith("**/", position):
                regex += "(?:.*/)?"
                position += 3
            elif pattern.startswith("**", position):
                regex += ".*"
                position += 2
            else:
                char = pattern[position]
                regex += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
                if char == "[":
                    end = pattern.index("]", position)
                    regex = regex[: -len(re.escape(char))] + pattern[position : end + 1]
                    position = end
                position += 1
        rules.append((negated, re.compile(regex + r"\Z")))
    return rules


def excluded_from_context(relative: str) -> bool:
    """Whether `docker build .` leaves this path (relative to the repository root) out of the context."""
    parts = Path(relative).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, pattern in dockerignore_rules():
        if any(pattern.match(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def test_the_dockerignore_matcher_follows_docker() -> None:
    assert excluded_from_context(".venv/bin/python")
    assert excluded_from_context("services/__pycache__/cli.cpython-311.pyc")
    assert not excluded_from_context("services/cli.py")


def test_dockerfile_builds_from_python_311_slim() -> None:
    stages = dockerfile_stages()
    for stage in stages:
        image = stage[0].args.split()[0]
        assert image.startswith("python:3.11-slim"), f"base image {image}, expected python:3.11-slim"


def test_dockerfile_copies_files_that_exist_and_reach_the_context() -> None:
    copied: list[str] = []
    for instruction in dockerfile_instructions():
        if instruction.keyword in {"COPY", "ADD"} and "--from=" not in instruction.args:
            copied += copy_sources(instruction)
    assert copied, "the Dockerfile copies nothing from the context"
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
        assert not excluded_from_context(source), f"COPY {source}: .dockerignore leaves it out"
        if (REPO / source).is_dir():
            for path in (REPO / source).rglob("*"):
                relative = path.relative_to(REPO).as_posix()
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    assert not excluded_from_context(relative), f".dockerignore leaves out {relative}"
    # What the build of the package needs: its metadata, its readme, the pins and every package.
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {"pyproject.toml", "constraints.txt", project["project"]["readme"]}
    needed |= {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert needed <= {s.rstrip("/") for s in copied}, f"not copied: {needed - set(copied)}"


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    for path in (".venv/bin/python", ".git/HEAD", "tests/unit/test_deploy.py", "earlywarning.db", ".env"):
        assert excluded_from_context(path), f"{path} would be sent to the image build"
    assert excluded_from_context("deploy/.env")


def test_dockerfile_installs_with_the_pinned_constraints() -> None:
    runs = [i.args for i in dockerfile_instructions() if i.keyword == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs, "no pip install in the Dockerfile"
    assert any(re.search(r"(--constraint|-c)[ =]constraints\.txt", run) for run in installs), installs


def test_dockerfile_runs_earlywarning_as_a_non_root_user() -> None:
    final = dockerfile_stages()[-1]
    users = [i.args for i in final if i.keyword == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"USER {users[-1]}: a numeric uid, so that runAsNonRoot can check it"
    assert int(uid) != 0, f"USER {users[-1]} is root"
    (entrypoint,) = [i for i in final if i.keyword == "ENTRYPOINT"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert entrypoint.exec_form() == ["earlywarning"]
    assert "earlywarning" in project["project"]["scripts"]
    for cmd in (i for i in final if i.keyword == "CMD"):
        resolve_command(cmd.exec_form())
    exposed = {int(p.split("/")[0]) for i in final if i.keyword == "EXPOSE" for p in i.args.split()}
    assert set(DEFAULT_PORTS.values()) <= exposed


def image_uid() -> int:
    users = [i.args for i in dockerfile_stages()[-1] if i.keyword == "USER"]
    return int(users[-1].split(":")[0])


# -- compose ---------------------------------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")


def environment(spec: Mapping[str, Any]) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def url_password(url: str) -> str:
    """The password of `scheme://user:password@host...`, read before interpolation (it may hold `?`)."""
    match = re.fullmatch(r"[^:]+://[^:/@]+:(.*)@[^@]+", url)
    assert match is not None, f"no user and password in {url}"
    return match.group(1)


def interpolated(value: str) -> str:
    """The value with each ${VAR...} replaced by a stand-in, as compose would with the variable set."""
    return _INTERPOLATION.sub(lambda m: f"stand-in-{m.group(1).lower().replace('_', '-')}", value)


def dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"{path.name}: not NAME=value: {raw!r}"
            values[name.strip()] = value.strip()
    return values


def earlywarning_services() -> dict[str, dict[str, Any]]:
    """The compose services that run the Early Warning image."""
    found = {
        name: spec
        for name, spec in compose_services().items()
        if str(spec.get("image", "")).split(":")[0].endswith(IMAGE) or "build" in spec
    }
    assert set(SERVICES) | {"migrate"} <= set(found), sorted(found)
    return found


def compose_command(spec: Mapping[str, Any]) -> list[str]:
    command = spec["command"]
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def test_compose_builds_the_image_from_the_dockerfile() -> None:
    for name, spec in earlywarning_services().items():
        build = spec["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == REPO, f"{name}: build context {context}, expected the repository root"
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE


@pytest.mark.parametrize("service", SERVICES)
def test_compose_runs_each_service_on_its_own(service: str) -> None:
    spec = compose_services()[service]
    invocation = resolve_command(compose_command(spec))
    assert invocation.path == ("serve",)
    assert invocation.params["service"].value == service


@pytest.mark.parametrize("service", SERVICES)
def test_compose_healthchecks_use_the_readiness_route(service: str) -> None:
    spec = compose_services()[service]
    port = serve_port(resolve_command(compose_command(spec)))
    test = " ".join(spec["healthcheck"]["test"])
    urls = re.findall(r"https?://[^'\"\s]+", test)
    assert urls, f"{service}: the healthcheck calls no URL"
    for url in urls:
        parts = urlsplit(url)
        assert parts.port == port, f"{service}: healthcheck on port {parts.port}, service on {port}"
        assert parts.path == "/readyz", f"{service}: healthcheck on {parts.path}, not the readiness route"
        assert_served(service, parts.path)


def test_compose_dependencies_wait_for_health_and_the_migration() -> None:
    services = compose_services()
    for name, spec in services.items():
        for dependency, condition in (spec.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on an unknown service {dependency}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
            if condition["condition"] == "service_completed_successfully":
                assert services[dependency].get("restart") == "no", f"{dependency} must run once"
    for name in SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["kafka"]["condition"] == "service_healthy", name
    migrate = services["migrate"]
    assert resolve_command(compose_command(migrate)).path == ("migrate",)
    assert {migrate["depends_on"][d]["condition"] for d in ("postgres", "kafka")} == {"service_healthy"}


def test_compose_kafka_is_one_kraft_broker_the_services_reach() -> None:
    kafka = compose_services()["kafka"]
    pom = (DEPLOY / "kafka" / "pom.xml").read_text(encoding="utf-8")
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert version is not None
    assert kafka["image"] == f"apache/kafka:{version.group(1)}", "the broker version of the tests"
    env = environment(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env.get("CLUSTER_ID"), "KRaft storage is formatted with CLUSTER_ID"
    assert "healthcheck" in kafka
    advertised = {urlsplit(listener).netloc for listener in env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    for name, spec in earlywarning_services().items():
        bootstrap = environment(spec)["EW_KAFKA_BOOTSTRAP"]
        assert set(bootstrap.split(",")) <= advertised, f"{name}: {bootstrap} is not advertised"


def test_compose_database_url_matches_postgres() -> None:
    postgres = compose_services()["postgres"]
    assert str(postgres["image"]).startswith("postgres:")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    pg_env = environment(postgres)
    for name, spec in earlywarning_services().items():
        raw = environment(spec)["EW_DATABASE_URL"]
        assert url_password(raw) == pg_env["POSTGRES_PASSWORD"], f"{name}: not the password of postgres"
        url = urlsplit(interpolated(raw))
        assert url.scheme == "postgresql+asyncpg", f"{name}: the services use asyncpg"
        assert url.hostname == "postgres"
        assert (url.port or 5432) == 5432
        assert url.username == pg_env["POSTGRES_USER"]
        assert url.path == "/" + pg_env["POSTGRES_DB"]


def test_compose_smtp_url_points_at_the_mail_catcher() -> None:
    services = compose_services()
    url = environment(services["notifier"])["EW_SMTP_URL"]
    target = parse_smtp_url(url)
    assert target.host in services, f"EW_SMTP_URL host {target.host} is not a compose service"


def test_compose_secrets_come_from_the_env_file() -> None:
    """Secrets are `${VAR:?...}`: set in deploy/.env (ignored by git) or compose refuses to start."""
    required: set[str] = set()
    for name, spec in compose_services().items():
        for variable, value in environment(spec).items():
            for match in _INTERPOLATION.finditer(value):
                if match.group(2) == ":?":
                    required.add(match.group(1))
            secret = variable in secret_settings() or variable.endswith("PASSWORD")
            if not secret:
                continue
            if variable == "EW_DATABASE_URL":
                value = url_password(value)
            secret_match = _INTERPOLATION.fullmatch(value)
            assert secret_match is not None, f"{name}: {variable} is hard-coded, not ${{VAR:?...}}"
            assert secret_match.group(2) == ":?", f"{name}: {variable} must be a required ${{VAR:?...}}"
    example = dotenv(DEPLOY / ".env.example")
    assert required <= set(example), f".env.example lacks {required - set(example)}"
    assert all(value == "" for value in example.values()), ".env.example must hold no secret values"
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored, "deploy/.env holds the secrets: .gitignore must ignore .env"


@pytest.mark.parametrize("service", [*sorted(SERVICES), "migrate"])
def test_compose_settings_are_valid(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {name: interpolated(value) for name, value in environment(compose_services()[service]).items()}
    settings = validate_settings(env, monkeypatch)
    assert settings.uses_kafka
    assert settings.database_url.startswith("postgresql+asyncpg://")


def test_compose_services_run_locked_down_and_publish_on_loopback() -> None:
    for name, spec in earlywarning_services().items():
        assert spec.get("read_only") is True, f"{name}: read_only root filesystem"
        assert "ALL" in spec.get("cap_drop", []), f"{name}: drop every capability"
    for name, spec in compose_services().items():
        for port in spec.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"


# -- Prometheus ------------------------------------------------------------------------------------


@cache
def prometheus_config() -> dict[str, Any]:
    return load_mapping(PROMETHEUS / "prometheus.yml")


def scrape_targets() -> dict[str, set[tuple[str, int, str]]]:
    """job -> {(host, port, metrics path)} of prometheus.yml."""
    targets: dict[str, set[tuple[str, int, str]]] = {}
    for job in prometheus_config()["scrape_configs"]:
        path = job.get("metrics_path", "/metrics")
        found = targets.setdefault(job["job_name"], set())
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, _, port = target.rpartition(":")
                found.add((host, int(port), path))
        for dns in job.get("dns_sd_configs", []):
            assert dns.get("type", "SRV") == "A", "A records: the port is in the scrape config"
            found |= {(name, int(dns["port"]), path) for name in dns["names"]}
    return targets


def test_prometheus_scrapes_every_service_on_its_port() -> None:
    ports = {
        name: serve_port(resolve_command(compose_command(compose_services()[name]))) for name in SERVICES
    }
    targets = scrape_targets()
    scraped = {host for found in targets.values() for host, _, _ in found}
    assert set(SERVICES) <= scraped, f"not scraped: {set(SERVICES) - scraped}"
    for job, found in targets.items():
        for host, port, path in found:
            assert host in compose_services(), f"job {job}: {host} is not a compose service"
            if host in ports:
                assert port == ports[host], f"job {job}: {host}:{port}, the service listens on {ports[host]}"
                assert_served(host, path)


def test_prometheus_loads_the_rule_files_compose_mounts() -> None:
    for rule_file in prometheus_config()["rule_files"]:
        assert (PROMETHEUS / rule_file).is_file(), f"rule file {rule_file} is missing"
    prometheus = compose_services()["prometheus"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in prometheus["volumes"] if m.startswith("./")}
    (config_flag,) = [c for c in prometheus["command"] if c.startswith("--config.file=")]
    config_path = Path(config_flag.split("=", 1)[1])
    host_dir = mounts[str(config_path.parent)]
    assert (DEPLOY / host_dir / config_path.name).resolve() == PROMETHEUS / "prometheus.yml"


@cache
def alert_rules() -> tuple[dict[str, Any], ...]:
    groups = load_mapping(PROMETHEUS / "alerts.yml")["groups"]
    return tuple(rule for group in groups for rule in group["rules"])


def alert_names() -> set[str]:
    return {rule["alert"] for rule in alert_rules()}


def check_series_and_labels(where: str, found: PromQL) -> None:
    exported = exported_series()
    unknown = {name for name in found.series if name not in exported and name not in PROMETHEUS_SERIES}
    assert not unknown, f"{where}: series not defined in shared/metrics.py: {sorted(unknown)}"
    in_expr = set(TARGET_LABELS)
    for name in found.series:
        in_expr |= exported.get(name, frozenset())
    for series, label, op, value in found.matchers:
        allowed = set(exported.get(series, frozenset())) | TARGET_LABELS
        assert label in allowed, f"{where}: {series} has no label {label}"
        if series == "ew_deliveries_total" and label == "status" and op in {"=", "!="}:
            assert value in recorded_delivery_statuses(), f"{where}: the notifier never records {value!r}"
    assert found.grouping <= in_expr, f"{where}: no series has the labels {found.grouping - in_expr}"


def test_alerts_cover_lag_dead_letters_and_failed_deliveries() -> None:
    series = set().union(*(read_promql(rule["expr"]).series for rule in alert_rules()))
    assert {"ew_bus_consumer_lag", "ew_bus_dead_lettered_total", "ew_deliveries_total"} <= series
    failed = [
        rule
        for rule in alert_rules()
        if ("ew_deliveries_total", "status", "=", "failed") in read_promql(rule["expr"]).matchers
    ]
    assert failed, "no alert on deliveries with the status failed"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_each_alert_is_well_formed(rule: Mapping[str, Any]) -> None:
    assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", rule["alert"])
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"]
    assert rule["annotations"]["description"]
    check_series_and_labels(rule["alert"], read_promql(rule["expr"]))


def test_alert_names_are_unique() -> None:
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))


def test_every_alert_has_a_unit_test() -> None:
    tests = load_mapping(PROMETHEUS / "alerts.test.yml")
    assert tests["rule_files"] == ["alerts.yml"]
    fired: set[str] = set()
    for case in tests["tests"]:
        for series in case["input_series"]:
            check_series_and_labels("alerts.test.yml", read_promql(series["series"]))
        fired |= {t["alertname"] for t in case["alert_rule_test"] if t.get("exp_alerts")}
    assert fired == alert_names(), f"alerts without a firing test: {alert_names() - fired}"


# -- Kubernetes ------------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    listed = set(kustomization()["resources"])
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert "secret.template.yaml" not in listed, "placeholder secrets must never be applied"
    assert listed == files - {"secret.template.yaml"}, f"not listed: {files - listed}"
    for resource in k8s_resources():
        assert resource.doc.get("apiVersion"), resource.file
        assert resource.kind, resource.file
        assert resource.name, resource.file
    (namespace,) = k8s_of("Namespace")
    assert kustomization()["namespace"] == namespace == secret_template()["metadata"]["namespace"]
    images = {image["name"] for image in kustomization()["images"]}
    for name, workload in workloads().items():
        assert container(workload)["image"].split(":")[0] in images, f"{name}: image not in images:"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_deployment_service_and_pdb(service: str) -> None:
    deployment = k8s_of("Deployment")[service]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items(), f"{service}: the selector does not select its pods"

    def selects(match: Mapping[str, str]) -> set[str]:
        return {
            name
            for name, other in k8s_of("Deployment").items()
            if match.items() <= other["spec"]["template"]["metadata"]["labels"].items()
        }

    pdbs = [
        p
        for p in k8s_of("PodDisruptionBudget").values()
        if selects(p["spec"]["selector"]["matchLabels"]) == {service}
    ]
    assert len(pdbs) == 1, f"{service}: one PodDisruptionBudget selecting only its pods"
    assert "maxUnavailable" in pdbs[0]["spec"] or "minAvailable" in pdbs[0]["spec"]
    services = [s for s in k8s_of("Service").values() if selects(s["spec"]["selector"]) == {service}]
    assert len(services) == 1, f"{service}: one Service selecting only its pods"
    ports = container(deployment)["ports"]
    for port in services[0]["spec"]["ports"]:
        target = port.get("targetPort", port["port"])
        assert any(target in (p.get("name"), p["containerPort"]) for p in ports), f"{service}: {target}"


@pytest.mark.parametrize("service", SERVICES)
def test_each_deployment_serves_and_probes_the_real_routes(service: str) -> None:
    spec = container(k8s_of("Deployment")[service])
    invocation = resolve_command(spec["args"])
    assert invocation.path == ("serve",)
    assert invocation.params["service"].value == service
    port = serve_port(invocation)
    ports = {p.get("name"): p["containerPort"] for p in spec["ports"]}
    assert port in ports.values(), f"{service} listens on {port}, the container declares {ports}"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert probe in spec or probe == "startupProbe", f"{service}: no {probe}"
        if probe not in spec:
            continue
        get = spec[probe]["httpGet"]
        probe_port = ports.get(get["port"], get["port"])
        assert probe_port == port, f"{service}: {probe} on port {get['port']}"
        assert_served(service, get["path"])
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # Liveness must not follow the database or the bus: an outage would restart every pod.
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
    annotations = k8s_of("Deployment")[service]["spec"]["template"]["metadata"].get("annotations", {})
    if "prometheus.io/port" in annotations:
        assert int(annotations["prometheus.io/port"]) == port
        assert_served(service, annotations.get("prometheus.io/path", "/metrics"))


@pytest.mark.parametrize("name", ["ingest", "signals", "notifier", "migrate"])
def test_each_workload_has_resources_and_runs_locked_down(name: str) -> None:
    workload = workloads()[name]
    pod = pod_spec(workload)
    spec = container(workload)
    resources = spec["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[kind]), f"{name}: {kind} for cpu and memory"
    pod_security = pod.get("securityContext", {})
    security = spec["securityContext"]
    assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True
    assert security.get("runAsUser", pod_security.get("runAsUser", image_uid())) == image_uid()
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"] for m in spec.get("volumeMounts", [])}
    assert "/tmp" in mounts, f"{name}: a writable /tmp on a read-only root filesystem"


def test_the_migration_job_runs_migrate_once() -> None:
    job = k8s_of("Job")["migrate"]
    assert resolve_command(container(job)["args"]).path == ("migrate",)
    assert pod_spec(job)["restartPolicy"] in {"Never", "OnFailure"}
    assert job["spec"]["backoffLimit"] >= 1


def test_signals_replicas_stay_within_the_partitions() -> None:
    signals = k8s_of("Deployment")["signals"]
    partitions = int(configmap()["EW_BUS_PARTITIONS"])
    assert 1 <= signals["spec"]["replicas"] <= partitions
    assert "EW_BUS_PARTITIONS" in (K8S / "signals.yaml").read_text(encoding="utf-8"), "say why in a comment"
    autoscaled = {h["spec"]["scaleTargetRef"]["name"] for h in k8s_of("HorizontalPodAutoscaler").values()}
    assert "signals" not in autoscaled, "CPU does not bound the consumers by the partitions"


def test_ingest_is_autoscaled() -> None:
    (hpa,) = [
        h
        for h in k8s_of("HorizontalPodAutoscaler").values()
        if h["spec"]["scaleTargetRef"]["name"] == "ingest"
    ]
    target = hpa["spec"]["scaleTargetRef"]
    assert target["kind"] == "Deployment"
    assert target["apiVersion"] == "apps/v1"
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    ingest = k8s_of("Deployment")["ingest"]
    assert "replicas" not in ingest["spec"], "with an HPA, an applied replicas field resets its count"
    assert "cpu" in container(ingest)["resources"]["requests"], "CPU utilisation needs a CPU request"


def test_secrets_come_from_the_secret_and_settings_from_the_configmap() -> None:
    template = secret_template()
    assert template["kind"] == "Secret"
    assert template["metadata"]["name"] == SECRET_NAME
    keys = set(template["stringData"])
    assert not (set(configmap()) & secret_settings()), "a secret in the ConfigMap"
    config_names = {c.name for c in k8s_resources() if c.kind == "ConfigMap"}
    for name, workload in workloads().items():
        spec = container(workload)
        for source in spec.get("envFrom", []):
            assert "secretRef" not in source, f"{name}: name each secret (secretKeyRef)"
            assert source["configMapRef"]["name"] in config_names
        for variable in spec.get("env", []):
            if variable["name"] in secret_settings() or variable["name"] == "EW_SMTP_URL":
                assert "value" not in variable, f"{name}: {variable['name']} is hard-coded"
            reference = variable.get("valueFrom", {}).get("secretKeyRef")
            if reference is not None:
                assert reference["name"] == SECRET_NAME, (name, variable)
                assert reference["key"] in keys, f"{name}: the Secret template has no {reference['key']}"
    placeholders = [v for v in template["stringData"].values() if "REPLACE_ME" in v]
    assert len(placeholders) == len(template["stringData"]), "the template holds placeholders only"
    parse_smtp_url(template["stringData"]["EW_SMTP_URL"])


@pytest.mark.parametrize("name", ["ingest", "signals", "notifier", "migrate"])
def test_k8s_settings_are_valid(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = container(workloads()[name])
    env = dict(configmap())
    for variable in spec.get("env", []):
        reference = variable.get("valueFrom", {}).get("secretKeyRef")
        if reference is not None:
            env[variable["name"]] = secret_template()["stringData"][reference["key"]]
        else:
            env[variable["name"]] = variable["value"]
    settings = validate_settings(env, monkeypatch)
    assert settings.uses_kafka
    assert settings.database_url.startswith("postgresql+asyncpg://")


def test_notifier_and_signals_seal_with_the_same_key() -> None:
    """Subscriptions made in the console (signals) are opened by the notifier to sign deliveries."""
    for name in ("signals", "notifier"):
        names = {v["name"]: v for v in container(k8s_of("Deployment")[name])["env"]}
        reference = names["EW_SECRET_KEY"]["valueFrom"]["secretKeyRef"]
        assert reference["key"] == "EW_SECRET_KEY"
        assert not reference.get("optional", False)
        assert "EW_SECRET_KEY" in environment(compose_services()[name])


# -- the operations guide --------------------------------------------------------------------------


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def code_blocks(text: str) -> Iterator[str]:
    """Shell lines of fenced code blocks, with continued lines joined."""
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        yield from block.replace("\\\n", " ").splitlines()


def commands_in(line: str) -> Iterator[list[str]]:
    """The `earlywarning ...` commands of a shell line (also after `exec ... --` or `exec SERVICE`)."""
    words = shlex.split(line, comments=True)
    for index, word in enumerate(words):
        if word == "earlywarning" and (index == 0 or words[index - 1] not in {"-n", "--namespace"}):
            args: list[str] = []
            for arg in words[index + 1 :]:
                if arg in {"|", "||", "&&", ";", ">"} or arg.startswith(">"):
                    break
                args.append(arg)
            yield args


def test_the_guide_runs_only_real_commands() -> None:
    found = 0
    for line in code_blocks(guide()):
        for args in commands_in(line):
            resolve_command(args)
            found += 1
    assert found >= 5, "the guide should show the commands it talks about"
    for span in re.findall(r"`(earlywarning [^`]+)`", guide()):
        # Prose names a command with placeholders (`earlywarning dlq list TOPIC`): check its words.
        assert_command_path(span.split()[1:])


def test_the_guide_names_real_compose_services_and_k8s_resources() -> None:
    kinds = {"deployment": "Deployment", "deploy": "Deployment", "job": "Job"}
    for kind, name in re.findall(r"\b(deployment|deploy|job)/([a-z0-9-]+)\b(?![./])", guide()):
        if kind == "deploy" and (DEPLOY / name).exists():
            continue  # a path under deploy/, not `kubectl ... deploy/NAME`
        assert name in k8s_of(kinds[kind]), f"the guide names {kind}/{name}"
    verbs = {"exec", "logs", "restart", "run", "up", "stop", "start"}
    for line in [*code_blocks(guide()), *re.findall(r"`(docker compose [^`]+)`", guide())]:
        words = shlex.split(line, comments=True)
        if words[:2] != ["docker", "compose"]:
            continue
        rest = [w for w in words[2:] if not w.startswith("-") and w != "deploy/compose.yaml"]
        if rest and rest[0] in verbs - {"up"} and len(rest) > 1:
            assert rest[1] in compose_services(), f"the guide names the compose service {rest[1]}"
    for scaled in re.findall(r"--scale (\w+)=", guide()):
        assert scaled in compose_services()


def test_the_guide_names_real_files_settings_groups_and_series() -> None:
    text = guide()
    for path in re.findall(r"\bdeploy/[\w./-]*[\w/]", text):
        if path.removeprefix("deploy/") in k8s_of("Deployment"):
            continue  # `kubectl exec deploy/NAME`, a Deployment
        # deploy/.env is the operator's copy of deploy/.env.example, never in the repository.
        assert path == "deploy/.env" or (REPO / path).exists(), f"the guide names {path}"
    for name in re.findall(r"\bEW_[A-Z_]+\b", text):
        assert name in setting_names(), f"the guide names the setting {name}"
    topics = set(ALL_TOPICS) | {dlq_topic(t) for t in ALL_TOPICS} | {"ew.dlq.<topic>"}
    groups = {SIGNALS_GROUP, NOTIFIER_GROUP, REPLAY_GROUP}
    for name in re.findall(r"`(ew\.[^`\s]+)`", text):
        assert name in topics | groups, f"the guide names {name}: neither a topic nor a consumer group"
    for name in re.findall(r"`(ew_[a-z_]+)`", text):
        known = {*exported_series(), *(m.name for m in declared_metrics()), *DLQ_HEADERS}
        assert name in known, f"the guide names {name}: neither a series nor a dead-letter header"
    assert {SIGNALS_GROUP, NOTIFIER_GROUP, REPLAY_GROUP} <= set(re.findall(r"`(ew\.[^`\s]+)`", text))


def test_the_guide_explains_every_alert() -> None:
    sections = set(re.findall(r"^### (\w+)$", guide(), flags=re.M))
    assert sections == alert_names(), f"alerts without a section: {alert_names() - sections}"


# -- the tools, where this machine has them --------------------------------------------------------


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed here; the structural checks above ran without it")
    return path


def run(args: Sequence[str], *, cwd: Path = REPO, env: Mapping[str, str] | None = None) -> str:
    result = subprocess.run(
        list(args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_promtool_checks_the_config_and_the_rules() -> None:
    promtool = tool("promtool")
    run([promtool, "check", "config", "prometheus.yml"], cwd=PROMETHEUS)
    run([promtool, "check", "rules", "alerts.yml"], cwd=PROMETHEUS)
    run([promtool, "test", "rules", "alerts.test.yml"], cwd=PROMETHEUS)


def stand_in_variables() -> dict[str, str]:
    return {name: f"stand-in-{name.lower()}" for name in dotenv(DEPLOY / ".env.example")}


def test_docker_compose_accepts_the_file() -> None:
    docker = tool("docker")
    if subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode:
        pytest.skip("the docker client has no compose plugin here")
    run([docker, "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"], env=stand_in_variables())


def rendered_k8s() -> list[dict[str, Any]]:
    kubectl = tool("kubectl")
    return [doc for doc in yaml.safe_load_all(run([kubectl, "kustomize", str(K8S)])) if doc]


def test_kubectl_kustomize_renders_the_manifests() -> None:
    rendered = rendered_k8s()
    assert {(d["kind"], d["metadata"]["name"]) for d in rendered} == {
        (r.kind, r.name) for r in k8s_resources()
    }
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == kustomization()["namespace"], doc["metadata"]["name"]


def manifests() -> list[str]:
    files = [str(K8S / name) for name in kustomization()["resources"]]
    return [*files, str(K8S / "secret.template.yaml")]


def test_kubeconform_validates_the_manifests() -> None:
    kubeconform = tool("kubeconform")
    run([kubeconform, "-strict", "-summary", *manifests()])


def test_kubernetes_validate_validates_the_manifests() -> None:
    validator = tool("kubernetes-validate")
    run([validator, "--strict", "--quiet", *manifests()])


def test_hadolint_accepts_the_dockerfile() -> None:
    hadolint = tool("hadolint")
    run([hadolint, str(DOCKERFILE)])
