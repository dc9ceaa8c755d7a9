"""What the chart carries besides templates, and what is generated from it.

The chart's CRD is the same generated file as crds/ (rendered with the keep
policy when asked), manifests/install.yaml and docs/reference/jobqueue.md
are fresh renders, the Grafana dashboard is well-formed and queries metrics the
operator and workers really export, the development Redis keeps its password
off command lines, and NOTES.txt tells the next steps.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_tools import CHART, ROOT, Obj, helm_run, named, of_kind, one, render
from prometheus_client import CollectorRegistry
from scripts import gen_reference, render_manifests

from sluice.worker.metrics import WorkerMetrics
from sluice_operator.queue_metrics import OperatorMetrics

SOURCE_CRD = ROOT / "crds" / "jobqueues.sluice.dev.yaml"
DASHBOARD = CHART / "dashboards" / "sluice.json"


def test_chart_crd_copy_is_byte_identical_to_crds() -> None:
    copies = sorted(p.name for p in (CHART / "files" / "crds").iterdir())
    assert copies == sorted(p.name for p in (ROOT / "crds").glob("*.yaml"))
    copy = CHART / "files" / "crds" / SOURCE_CRD.name
    assert copy.read_bytes() == SOURCE_CRD.read_bytes(), "run `make crd`"


@pytest.mark.parametrize("keep", [True, False])
def test_rendered_crd_is_the_source_plus_the_keep_policy(keep: bool) -> None:
    crd = one(render({"crds": {"keep": keep}}), "CustomResourceDefinition")
    source = yaml.safe_load(SOURCE_CRD.read_text())
    annotations = crd["metadata"].pop("annotations", {})
    assert annotations == ({"helm.sh/resource-policy": "keep"} if keep else {})
    assert json.loads(json.dumps(crd)) == json.loads(json.dumps(source))


def test_crds_can_be_left_out() -> None:
    assert not of_kind(render({"crds": {"install": False}}), "CustomResourceDefinition")


def test_install_yaml_is_a_fresh_render_of_the_chart() -> None:
    fresh = render_manifests.render()
    assert (ROOT / "manifests" / "install.yaml").read_text() == fresh, "run `make manifests`"
    docs = [d for d in yaml.safe_load_all(fresh) if d]
    assert docs[0]["kind"] == "Namespace"
    assert docs[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    rendered = render(values=None)
    assert docs[1:] == rendered
    assert {d["metadata"].get("namespace") for d in docs[1:] if d["kind"] != "ClusterRole"} <= {
        None,
        render_manifests.NAMESPACE,
    }


def test_reference_page_is_generated_from_the_crd() -> None:
    page = ROOT / "docs" / "reference" / "jobqueue.md"
    assert page == gen_reference.PAGE
    assert page.read_text() == gen_reference.reference(), "run `make docs`"
    assert gen_reference.main(["--check"]) == 0


def test_reference_lists_every_spec_field_and_rule() -> None:
    text = gen_reference.reference()
    for field in ("scaling.scaleDown.stabilizationWindowSeconds", "redis.tls.caSecretRef.key"):
        assert f"`{field}`" in text
    assert "set exactly one of url or urlSecretRef" in text
    assert "| `oldestAgeSeconds` | integer |" in text


# --- Grafana dashboard ---------------------------------------------------------


def _exported(registry: CollectorRegistry) -> set[str]:
    """Sample names a registry serves, including the _total/_bucket/... suffixes."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    names = set()
    for family in registry.collect():
        names |= {family.name + s for s in suffixes.get(family.type, ("",))}
    return names


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def test_dashboard_is_grafana_json() -> None:
    dash = _dashboard()
    assert {"title", "uid", "schemaVersion", "panels", "templating"} <= set(dash)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dash["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        xs, ys = range(pos["x"], pos["x"] + pos["w"]), range(pos["y"], pos["y"] + pos["h"])
        area = {(x, y) for x in xs for y in ys}
        assert not area & cells, f"panel {panel['title']} overlaps another"
        cells |= area
        assert panel["targets"], panel["title"]
        assert all(t["expr"] and t["refId"] for t in panel["targets"])
    variables = {v["name"] for v in dash["templating"]["list"]}
    assert {"datasource", "namespace", "jobqueue"} <= variables


def test_dashboard_has_the_panels_on_call_needs() -> None:
    titles = {p["title"].lower() for p in _dashboard()["panels"]}
    for wanted in ("backlog", "in flight", "oldest wait", "replicas vs desired"):
        assert wanted in titles
    for wanted in ("scale events", "job outcomes", "dead-letter queue"):
        assert wanted in titles


def test_dashboard_queries_metrics_that_exist() -> None:
    exported = _exported(OperatorMetrics().registry) | _exported(WorkerMetrics("q").registry)
    used = set()
    for panel in _dashboard()["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"\b(sluice_[a-z_]+)", target["expr"]))
    assert used
    unknown = used - exported
    assert not unknown, f"the dashboard queries metrics nobody exports: {unknown}"


def test_dashboard_configmap_carries_the_json_verbatim() -> None:
    objs = render({"dashboard": {"enabled": True}})
    configmap = one(objs, "ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["sluice.json"]) == _dashboard()
    assert not of_kind(render(), "ConfigMap")


# --- development Redis ---------------------------------------------------------


def _redis() -> list[Obj]:
    return render({"redis": {"enabled": True}})


def test_dev_redis_is_off_by_default() -> None:
    kinds = {o["kind"] for o in render()}
    assert not {"StatefulSet", "Secret"} & kinds


def test_dev_redis_persists_with_aof_behind_a_generated_password() -> None:
    objs = _redis()
    secret = named(objs, "Secret", "-redis")
    password = secret["stringData"]["password"]
    assert len(password) == 32
    config = secret["stringData"]["redis.conf"].splitlines()
    assert "appendonly yes" in config
    assert f"requirepass {password}" in config
    statefulset = one(objs, "StatefulSet")
    [claim] = statefulset["spec"]["volumeClaimTemplates"]
    mounts = statefulset["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/data"} in mounts
    service = named(objs, "Service", "-redis")
    assert service["spec"]["ports"][0]["port"] == 6379


def test_dev_redis_password_is_never_on_a_command_line_or_inline() -> None:
    objs = _redis()
    password = named(objs, "Secret", "-redis")["stringData"]["password"]
    for obj in objs:
        if obj["kind"] == "Secret":
            continue
        text = json.dumps(obj)
        assert password not in text, obj["kind"]
        assert base64.b64encode(password.encode()).decode() not in text


def test_dev_redis_password_differs_per_render_without_a_cluster() -> None:
    """`lookup` finds nothing under `helm template`: a new one is generated (a cluster keeps it)."""
    first = named(render({"redis": {"enabled": True}}), "Secret", "-redis")
    second = named(render({"redis": {"enabled": True}}, release="other"), "Secret", "-redis")
    assert first["stringData"]["password"] != second["stringData"]["password"]
    template = (CHART / "templates" / "redis.yaml").read_text()
    assert 'lookup "v1" "Secret"' in template


# --- NOTES ---------------------------------------------------------------------


def _notes(values: Obj) -> str:
    args = ("install", "sluice", str(CHART), "--dry-run=client", "--namespace", "queues")
    done = helm_run(*args, values=values)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("NOTES:", 1)[1]


def test_notes_give_next_steps() -> None:
    notes = _notes({})
    assert "kubectl get jobqueues" in notes
    assert "every namespace" in notes
    assert "http://sluice-metrics.queues.svc:9090/metrics" in notes
    namespaced = _notes({"watch": {"namespaces": ["team-a"]}, "redis": {"enabled": True}})
    assert "team-a" in namespaced
    assert "redis://sluice-redis.queues.svc:6379/0" in namespaced
    assert "not for production" in namespaced
    assert "port-forward" not in notes  # no web dashboard unless enabled


def test_notes_give_the_web_dashboards_port_forward_line() -> None:
    notes = _notes({"webDashboard": {"enabled": True}})
    assert "kubectl -n queues port-forward service/sluice-web 8089:8089" in notes
    assert "Read-only" in notes
    with_actions = _notes({
        "webDashboard": {"enabled": True, "allowActions": True, "tokenSecret": {"name": "tok"},
                         "ingress": {"enabled": True, "host": "q.example.com"}},
    })  # fmt: skip
    assert "bearer token in Secret tok" in with_actions
    assert "http://q.example.com/" in with_actions


def test_packaged_chart_renders_like_the_directory(tmp_path: Path) -> None:
    """`helm package` keeps files/ and dashboards/ (nothing needed is helm-ignored)."""
    done = helm_run("package", str(CHART), "--destination", str(tmp_path))
    assert done.returncode == 0, done.stderr
    [archive] = tmp_path.glob("sluice-*.tgz")
    values = {"dashboard": {"enabled": True}}
    args = ("template", "sluice", str(archive), "--namespace", "sluice-system")
    packaged = helm_run(*args, values=values)
    assert packaged.returncode == 0, packaged.stderr
    assert [d for d in yaml.safe_load_all(packaged.stdout) if d] == render(values)
