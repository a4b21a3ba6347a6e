"""Generate the OpenAPI document from the public functions' operations.

``python -m localplatform.openapi`` (``./scripts/task openapi``) writes
shared/api/openapi.json; ``--check`` exits 1 when the committed file differs from what
the code generates (tests/api/test_openapi.py asserts the same)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from localplatform.manifests.load import load_manifests
from localplatform.runtime.topology import build_topology
from shared.api import openapi
from shared.api.operation import Operation

ROOT = Path(__file__).resolve().parents[1]


def public_functions(root: Path = ROOT) -> list[str]:
    """The functions behind the public routes (internal ones have no public API)."""
    topology = build_topology(load_manifests(root / "knative" / "base"))
    return sorted({s.function for s in topology.services.values() if s.surface != "internal"})


def load_router(name: str, root: Path = ROOT) -> Any:
    main = root / "functions" / name / "main.py"
    spec = importlib.util.spec_from_file_location(f"protostar_fn_{name}", main)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, "router", None)


def collect(root: Path = ROOT) -> list[Operation]:
    ops: list[Operation] = []
    for name in public_functions(root):
        router = load_router(name, root)
        if router is not None:
            ops.extend(router.operations)
    return ops


def generate(root: Path = ROOT) -> str:
    return openapi.render(openapi.document(collect(root)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        if openapi.PATH.read_text(encoding="utf-8") != text:
            print(f"{openapi.PATH} is stale: run ./scripts/task openapi", file=sys.stderr)
            return 1
        return 0
    openapi.PATH.write_text(text, encoding="utf-8")
    print(f"wrote {openapi.PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
