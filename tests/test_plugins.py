"""Model plugins: a package with a `ladabench.models` entry point is listed, trains, and cannot shadow a built-in."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from bench.core.errors import UserError
from bench.registry import BUILT_IN_MODELS, PLUGIN_GROUP, with_plugins

REPO = Path(__file__).resolve().parents[1]
EXTENDING = REPO / "docs" / "extending.md"


def documented_plugin_module() -> str:
    """The example plugin's `tinygan_plugin/__init__.py`, read from docs/extending.md (the test keeps the page true)."""
    page = EXTENDING.read_text(encoding="utf-8")
    after = page.split("`tinygan_plugin/__init__.py`:", 1)[1]
    return re.search(r"```python\n(.*?)```", after, re.S).group(1)


def install_plugin(site: Path, module_source: str, *, dist: str = "tinygan_plugin", value: str = "tinygan_plugin:SPEC"):
    """An 'installed' package in `site`: the module plus a .dist-info folder declaring the entry point."""
    package = site / value.split(":")[0]
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(module_source, encoding="utf-8")
    info = site / f"{dist}-0.1.0.dist-info"
    info.mkdir()
    name = dist.replace("_", "-")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[{PLUGIN_GROUP}]\ntinygan = {value}\n", encoding="utf-8")


def cli(args: list[str], site: Path, cwd: Path) -> subprocess.CompletedProcess:
    """`ladabench ARGS` in a fresh interpreter that sees the plugin's folder on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{REPO}", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )


@pytest.mark.slow
def test_a_plugin_package_is_listed_and_trains(tmp_path):
    site = tmp_path / "site"
    install_plugin(site, documented_plugin_module())

    listed = cli(["models"], site, tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = [ln for ln in listed.stdout.splitlines() if "tinygan" in ln]
    assert len(rows) == 2 and all("tinygan-plugin 0.1.0" in r and "plugin" in r for r in rows), listed.stdout
    assert any("mlp32" in r and "32" in r for r in rows)
    assert any(" ladagan " in ln and "ladabench" in ln for ln in listed.stdout.splitlines())  # built-ins stay

    trained = cli(
        ["train", "tinygan", "--kimg", "0.032", "--batch", "8", "--tick-kimg", "0.016", "--device", "cpu"]
        + ["--out", str(tmp_path / "runs")],
        site,
        tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    (run,) = (tmp_path / "runs").iterdir()
    options = json.loads((run / "options.json").read_text())
    assert options["model"] == "tinygan" and options["preset"] == "mlp32"
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert stats and stats[-1]["kimg"] == pytest.approx(0.032)
    assert list(run.glob("snapshot-*.pt"))

    profiled = cli(["profile", "tinygan", "--preset", "mlp32", "--no-speed", "--threads", "1"], site, tmp_path)
    assert profiled.returncode == 0, profiled.stderr
    assert "tinygan" in profiled.stdout and "201,792" in profiled.stdout  # G params of the documented mlp32


def test_a_plugin_cannot_shadow_a_built_in_model(tmp_path, monkeypatch):
    source = textwrap.dedent(
        """
        import dataclasses
        from bench.registry import BUILT_IN_MODELS
        SPEC = dataclasses.replace(BUILT_IN_MODELS["conv"], name="ladagan")
        """
    )
    install_plugin(tmp_path, source, dist="shadow_plugin", value="shadow_plugin:SPEC")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = EntryPoint(name="ladagan", value="shadow_plugin:SPEC", group=PLUGIN_GROUP)
    with pytest.raises(UserError) as error:
        with_plugins(BUILT_IN_MODELS, [entry])
    message = str(error.value)
    assert "model 'ladagan' of package 'shadow_plugin'" in message
    assert "clashes with the built-in model 'ladagan'" in message


def test_two_plugins_with_one_name_are_refused_naming_both(tmp_path, monkeypatch):
    source = "import dataclasses\nfrom bench.registry import BUILT_IN_MODELS\n"
    source += "SPEC = dataclasses.replace(BUILT_IN_MODELS['conv'], name='mine')\n"
    for package in ("first_plugin", "second_plugin"):
        install_plugin(tmp_path / package, source, dist=package, value=f"{package}:SPEC")
        monkeypatch.syspath_prepend(str(tmp_path / package))
    entries = [
        EntryPoint(name="mine", value=f"{p}:SPEC", group=PLUGIN_GROUP) for p in ("first_plugin", "second_plugin")
    ]
    with pytest.raises(UserError, match="package 'second_plugin'.*the model of package 'first_plugin'"):
        with_plugins(BUILT_IN_MODELS, entries)


def test_a_plugin_that_is_not_a_spec_is_one_error_naming_it(tmp_path, monkeypatch):
    install_plugin(tmp_path, "SPEC = 'not a spec'\n", dist="odd_plugin", value="odd_plugin:SPEC")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = EntryPoint(name="odd", value="odd_plugin:SPEC", group=PLUGIN_GROUP)
    with pytest.raises(UserError, match="odd_plugin:SPEC.*not a bench.zoo.spec.ModelSpec"):
        with_plugins(BUILT_IN_MODELS, [entry])


def test_a_plugin_that_fails_to_import_names_its_error(tmp_path, monkeypatch):
    install_plugin(tmp_path, "import no_such_module_here\n", dist="broken_plugin", value="broken_plugin:SPEC")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = EntryPoint(name="broken", value="broken_plugin:SPEC", group=PLUGIN_GROUP)
    with pytest.raises(UserError, match="failed to load \\(ModuleNotFoundError.*fix or uninstall"):
        with_plugins(BUILT_IN_MODELS, [entry])


def test_a_plugin_list_of_specs_is_registered_with_its_package(tmp_path, monkeypatch):
    source = "import dataclasses\nfrom bench.registry import BUILT_IN_MODELS\n"
    source += "SPECS = [dataclasses.replace(BUILT_IN_MODELS['conv'], name=n) for n in ('a-gan', 'b-gan')]\n"
    install_plugin(tmp_path, source, dist="two_plugin", value="two_plugin:SPECS")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = EntryPoint(name="two", value="two_plugin:SPECS", group=PLUGIN_GROUP)
    table = with_plugins(BUILT_IN_MODELS, [entry])
    assert list(table)[-2:] == ["a-gan", "b-gan"]
    assert table["a-gan"].package == "two_plugin" and table["ladagan"].package == "ladabench"
