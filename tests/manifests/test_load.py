"""load_manifests follows kustomize's resources; the CLI finds every set and every stray file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from localplatform.manifests import ManifestError, load_catalog_types, load_manifests
from localplatform.manifests.__main__ import main
from tests.conftest import ROOT

SERVICE = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: {name}
  labels:
    protostar.dev/function: {name}
    protostar.dev/surface: public
spec:
  template:
    spec:
      containers:
        - image: protostar/function-{name}
          env:
            - name: FUNCTION_TARGET
              value: {name}
            - name: FUNCTION_SIGNATURE_TYPE
              value: {signature}
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _tree(tmp_path: Path, signature: str = "http") -> Path:
    """knative/{base,overlay,argocd} in miniature."""
    knative = tmp_path / "knative"
    _write(knative / "base" / "kustomization.yaml", "resources:\n  - services/\n  - cm.yaml\n")
    _write(knative / "base" / "services" / "kustomization.yaml", "resources: [web.yaml]\n")
    _write(
        knative / "base" / "services" / "web.yaml",
        SERVICE.format(name="web", signature=signature),
    )
    _write(
        knative / "base" / "cm.yaml",
        "---\n# empty first document\n---\napiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: one}\n---\n---\napiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: two}\n",
    )
    _write(knative / "overlay" / "kustomization.yaml", "resources:\n  - ../base\n")
    _write(
        knative / "argocd" / "app.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: app}\n",
    )
    return knative


def test_directories_follow_resources_recursively_and_skip_empty_documents(
    tmp_path: Path,
) -> None:
    knative = _tree(tmp_path)
    manifests = load_manifests(knative / "overlay")
    assert [(m.kind, m.name) for m in manifests] == [
        ("Service", "web"),
        ("ConfigMap", "one"),
        ("ConfigMap", "two"),
    ]
    cm = [m for m in manifests if m.kind == "ConfigMap"]
    # index is the position in the file's document stream, empty documents included.
    assert [(m.source, m.index) for m in cm] == [
        (knative / "base" / "cm.yaml", 1),
        (knative / "base" / "cm.yaml", 3),
    ]
    assert manifests[0].source == knative / "base" / "services" / "web.yaml"


def test_a_file_is_read_alone(tmp_path: Path) -> None:
    knative = _tree(tmp_path)
    (app,) = load_manifests(knative / "argocd" / "app.yaml")
    assert (app.api_version, app.kind, app.name, app.index) == (
        "argoproj.io/v1alpha1",
        "Application",
        "app",
        0,
    )


@pytest.mark.parametrize(
    ("files", "target", "expected"),
    [
        (
            {"k/kustomization.yaml": "resources: [missing.yaml]\n"},
            "k",
            "resource 'missing.yaml' does not exist",
        ),
        ({"k/kustomization.yaml": "resources: [../k]\n"}, "k", "kustomization includes itself"),
        (
            {"k/kustomization.yaml": "resources: [https://example.com/x.yaml]\n"},
            "k",
            "remote resource",
        ),
        ({"k/kustomization.yaml": "resources: sub\n"}, "k", "resources must be a list of paths"),
        (
            {"k/kustomization.yaml": "resources: [sub]\n", "k/sub/x.yaml": "a: 1\n"},
            "k",
            "directory has no kustomization.yaml",
        ),
        ({"k/x.yaml": "- a\n- b\n"}, "k/x.yaml", "document 0 is a list, not a mapping"),
        ({"k/x.yaml": "a: [1,\n"}, "k/x.yaml", "invalid YAML"),
        ({}, "nothing", "no such file or directory"),
    ],
)
def test_unreadable_sets_raise_a_precise_error(
    tmp_path: Path, files: dict[str, str], target: str, expected: str
) -> None:
    for name, text in files.items():
        _write(tmp_path / name, text)
    with pytest.raises(ManifestError, match=expected.replace("(", r"\(").replace(".", r"\.")):
        load_manifests(tmp_path / target)


def test_catalog_types(tmp_path: Path) -> None:
    assert "dev.protostar.document.uploaded" in load_catalog_types(ROOT / "events" / "catalog.yaml")
    empty = _write(tmp_path / "catalog.yaml", "events: []\n")
    assert load_catalog_types(empty) == set()
    broken = _write(tmp_path / "broken.yaml", "events:\n  - schema: x.json\n")
    with pytest.raises(ManifestError, match=r"events\[0\] has no 'type' string"):
        load_catalog_types(broken)
    with pytest.raises(ManifestError, match="must be a mapping with an 'events' list"):
        load_catalog_types(_write(tmp_path / "list.yaml", "- a\n"))


def test_cli_reports_problems_and_stray_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KNATIVE_CRDS", str(ROOT.parent / "shared" / "knative-crds"))
    monkeypatch.chdir(tmp_path)
    knative = _tree(tmp_path, signature="event")
    _write(
        knative / "base" / "forgotten.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: f}\n",
    )
    assert main([str(knative)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "knative/base/forgotten.yaml: not listed in any kustomization's resources "
        "(kustomize would leave it out)",
        "knative/base/services/web.yaml: Service/web: container env FUNCTION_SIGNATURE_TYPE is "
        "'event': must be one of http, cloudevent",
    ]


def test_cli_ok_counts_each_manifest_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KNATIVE_CRDS", str(ROOT.parent / "shared" / "knative-crds"))
    knative = _tree(tmp_path)
    assert main([str(knative)]) == 0
    # web, one, two (in base, services and overlay alike) and the Application.
    assert capsys.readouterr().out == "OK: 4 manifests valid\n"


def test_cli_without_crds_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "localplatform.manifests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"KNATIVE_CRDS": str(tmp_path / "absent"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "Knative CRD schemas not found" in result.stderr
    assert "KNATIVE_CRDS" in result.stderr
