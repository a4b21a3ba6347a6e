"""The images: which packages each function's image installs.

pyproject.toml's ``dependencies`` are the base of every image; its optional groups
(``documents``, ``llm``, ``ml``, ``mail``) go only into the images of the functions
that name them in ``functions/<dir>/needs.yaml`` (``groups:``); ``local``, ``dev`` and
``bench`` go into none. Each group's lock (``locks/<group>.lock``) is the part of
requirements.lock (the whole development environment, resolved once) that the group
needs beyond the base: the same pins, so any union of locks is consistent. The
Dockerfile installs ``locks/base.lock`` and the function's group locks, nothing else.

    python -m localplatform.images            # write locks/ from requirements.lock
    python -m localplatform.images --check    # fail when locks/ is stale (a test does)
    python -m localplatform.images groups FN  # the groups of functions/FN (the build arg)
    python -m localplatform.images envs [DIR] # build every image's environment, probe
                                              # each function in it, report sizes
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml  # type: ignore[import-untyped,unused-ignore]

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
LOCKS = ROOT / "locks"
IMAGE_GROUPS = ("documents", "llm", "ml", "mail")  # what an image may add to the base
NOT_IN_IMAGES = ("local", "dev", "bench")
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)")
_VIA = re.compile(r"^\s+#\s+(?:via\s+)?([A-Za-z0-9_.-]+)(?:\s|$)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(spec: str) -> str:
    match = re.match(r"^\s*([A-Za-z0-9_.-]+)", spec)
    assert match, spec
    return canonical(match.group(1))


@dataclass(frozen=True)
class Locked:
    pins: Mapping[str, str]  # canonical name -> version
    parents: Mapping[str, frozenset[str]]  # name -> the packages that require it ("via")

    def closure(self, direct: Iterable[str]) -> set[str]:
        """``direct`` and everything they need, as resolved in the lock."""
        found = {canonical(d) for d in direct}
        missing = found - set(self.pins)
        if missing:
            raise SystemExit(f"not in requirements.lock: {sorted(missing)}; run task lock")
        changed = True
        while changed:
            changed = False
            for name, parents in self.parents.items():
                if name not in found and parents & found:
                    found.add(name)
                    changed = True
        return found


def read_lock(path: Path = LOCK) -> Locked:
    pins: dict[str, str] = {}
    parents: dict[str, set[str]] = {}
    current: str | None = None
    for line in path.read_text().splitlines():
        pin = _PIN.match(line)
        if pin:
            current = canonical(pin.group(1))
            pins[current] = pin.group(2)
            parents[current] = set()
            continue
        via = _VIA.match(line)
        if via and current is not None and via.group(1) != "protostar":
            parents[current].add(canonical(via.group(1)))
    return Locked(pins, {k: frozenset(v) for k, v in parents.items()})


def declared_groups(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, list[str]]:
    """``base`` and every optional group: their direct requirements' names."""
    project = tomllib.loads(pyproject.read_text())["project"]
    groups = {"base": [_requirement_name(r) for r in project["dependencies"]]}
    for group, reqs in project.get("optional-dependencies", {}).items():
        groups[group] = [_requirement_name(r) for r in reqs]
    return groups


def group_locks(locked: Locked | None = None) -> dict[str, list[str]]:
    """Each image group's lock lines (``name==version``); base's is whole, the others
    hold only what they add to it."""
    locked = locked or read_lock()
    groups = declared_groups()
    unknown = set(groups) - {"base", *IMAGE_GROUPS, *NOT_IN_IMAGES}
    if unknown:
        raise SystemExit(f"pyproject.toml: groups {sorted(unknown)} are not known here")
    base = locked.closure(groups["base"])
    out = {"base": sorted(base)}
    for group in IMAGE_GROUPS:
        out[group] = sorted(locked.closure(groups[group]) - base)
    return {g: [f"{n}=={locked.pins[n]}" for n in names] for g, names in out.items()}


def function_groups(function: str) -> list[str]:
    raw = yaml.safe_load((ROOT / "functions" / function / "needs.yaml").read_text()) or {}
    groups = [str(g) for g in raw.get("groups") or []]
    bad = set(groups) - set(IMAGE_GROUPS)
    if bad:
        raise SystemExit(f"functions/{function}/needs.yaml: unknown groups {sorted(bad)}")
    return groups


def image_packages(function: str, locks: Mapping[str, list[str]] | None = None) -> list[str]:
    """Every ``name==version`` the function's image installs."""
    locks = locks or group_locks()
    lines = set(locks["base"])
    for group in function_groups(function):
        lines |= set(locks[group])
    return sorted(lines)


def image_sets(functions: Iterable[str]) -> dict[tuple[str, ...], list[str]]:
    """The distinct images: group combination -> the functions that use it."""
    out: dict[tuple[str, ...], list[str]] = {}
    for function in sorted(functions):
        out.setdefault(tuple(sorted(function_groups(function))), []).append(function)
    return out


def all_functions() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "functions").glob("*/main.py"))


def build_env(groups: Iterable[str], dest: Path) -> Path:
    """A fresh virtual environment with exactly the image's packages (base.lock and the
    groups' locks, ``--no-deps``, as the Dockerfile installs them); its python."""
    import subprocess
    import venv

    venv.create(dest, with_pip=True, clear=True)
    python = dest / "bin" / "python"
    files = [LOCKS / "base.lock", *(LOCKS / f"{g}.lock" for g in groups)]
    args = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile"]
    for f in files:
        args += ["-r", str(f)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pip install into {dest} failed: {done.stderr[-2000:]}")
    return python


def installed_mb(env: Path) -> float:
    total = sum(p.stat().st_size for p in env.rglob("*") if p.is_file() and not p.is_symlink())
    return round(total / 2**20, 1)


_FIRST_PARTY = ("shared", "localplatform", "functions", "tests", "bench", "eval", "events")


def _module_file(name: str) -> Path | None:
    path = ROOT.joinpath(*name.split("."))
    if (path / "__init__.py").exists():
        return path / "__init__.py"
    if path.with_suffix(".py").exists():
        return path.with_suffix(".py")
    return None


# What a library imports for us when we call it: starlette parses a form with
# python-multipart (``await request.form()``).
_IMPLIED = {re.compile(r"\.form\("): "python_multipart"}
# A first-party module started as a process (``python -m shared.x`` or a sibling file,
# ``Path(__file__).with_name("_pdfworker.py")``).
_MODULE_STRING = re.compile(r"[\"'](shared(?:\.[a-z_][a-z0-9_]*)+)[\"']")
_SCRIPT_STRING = re.compile(r"[\"']([a-z_][a-z0-9_]*\.py)[\"']")


def reachable_imports(function: str) -> tuple[set[str], set[str]]:
    """(first-party modules, third-party top-level modules) that ``functions/<it>/main.py``
    can import, following every import statement in the code it reaches (those inside
    functions and ``TYPE_CHECKING`` blocks too: an over-approximation, never an under-),
    the first-party modules it starts as processes, and what libraries import for it."""
    import ast

    std = set(sys.stdlib_module_names) | {"__future__"}
    seen: set[Path] = set()
    third: set[str] = set()
    todo = [ROOT / "functions" / function / "main.py"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        package = parts[:-1]  # the package a relative import starts from
        source = path.read_text()
        third |= {module for pattern, module in _IMPLIED.items() if pattern.search(source)}
        for started in _MODULE_STRING.findall(source):
            found = _module_file(started)
            if found is not None:
                todo.append(found)
        todo += [
            path.parent / f for f in _SCRIPT_STRING.findall(source) if (path.parent / f).is_file()
        ]
        for node in ast.walk(ast.parse(source, str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - (node.level - 1)] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                names = [module, *(f"{module}.{a.name}" for a in node.names)]
            for name in names:
                top = name.split(".")[0]
                if top in _FIRST_PARTY:
                    found = _module_file(name)
                    if found is not None:
                        todo.append(found)
                elif top and top not in std:
                    third.add(top)
    return {str(p.relative_to(ROOT)) for p in seen}, third


def render(group: str, lines: list[str]) -> str:
    what = (
        "the base of every function's image"
        if group == "base"
        else f"what the {group!r} group adds to base.lock"
    )
    return (
        f"# {what}: written by `./scripts/task lock` (python -m localplatform.images) from\n"
        "# requirements.lock, whose pins these are. Do not edit.\n"
        + "".join(f"{x}\n" for x in lines)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localplatform.images")
    parser.add_argument("--check", action="store_true", help="fail if locks/ is stale")
    parser.add_argument("command", nargs="*", help="groups FUNCTION")
    args = parser.parse_args(argv)
    if args.command:
        if args.command[0] == "groups" and len(args.command) == 2:
            print(" ".join(function_groups(args.command[1])))
            return 0
        if args.command[0] == "envs" and len(args.command) <= 2:
            default = ROOT / ".data" / "image-envs"
            return _envs(Path(args.command[1]) if len(args.command) == 2 else default)
        parser.error("usage: groups FUNCTION | envs [DIR]")
    wanted = {f"{g}.lock": render(g, lines) for g, lines in group_locks().items()}
    if args.check:
        stale = [
            name
            for name, text in wanted.items()
            if not (LOCKS / name).exists() or (LOCKS / name).read_text() != text
        ]
        extra = sorted({p.name for p in LOCKS.glob("*.lock")} - set(wanted))
        if stale or extra:
            print(
                f"locks/ is stale ({', '.join(stale + extra)}): run ./scripts/task lock",
                file=sys.stderr,
            )
            return 1
        return 0
    LOCKS.mkdir(exist_ok=True)
    for name, text in wanted.items():
        (LOCKS / name).write_text(text)
    print(f"wrote {', '.join(sorted(wanted))} in {LOCKS}")
    return 0


def _envs(work: Path) -> int:
    print(json.dumps({"report": envs(work)}))
    return 0


def envs(work: Path) -> list[dict[str, object]]:
    """Every distinct image's environment, built fresh; each function started in its
    image's environment with the image's command and probed; the sizes."""
    import time

    from localplatform.probes import probe

    report = []
    for groups, functions in image_sets(all_functions()).items():
        env = work / ("-".join(groups) or "base")
        started = time.monotonic()
        python = build_env(groups, env)
        built = time.monotonic() - started
        size = installed_mb(env)  # before any function runs (and writes bytecode)
        first = {f: round(probe(f, python, work / "run" / f), 2) for f in functions}
        report.append(
            {
                "groups": ["base", *groups],
                "functions": functions,
                "installed_mb": size,
                "packages": len(image_packages(functions[0])),
                "build_s": round(built, 1),
                "first_answer_s": first,
            }
        )
        print(json.dumps(report[-1]), flush=True)
    return report


if __name__ == "__main__":
    raise SystemExit(main())
