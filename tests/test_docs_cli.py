"""The docs cannot drift: docs/cli/ equals the live --help, every relative link resolves, the README stays short."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
README_MAX_BYTES = 15 * 1024
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def dump_cli_help():
    """scripts/dump_cli_help.py as a module."""
    spec = importlib.util.spec_from_file_location("dump_cli_help", REPO / "scripts" / "dump_cli_help.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_cli_pages_equal_the_live_help():
    stale = dump_cli_help().stale_pages()
    assert stale == [], f"docs/cli is stale ({', '.join(stale)}); regenerate: python scripts/dump_cli_help.py"


def test_every_command_has_a_page_and_the_index_links_it():
    module = dump_cli_help()
    paths = module.command_paths()
    assert ("train",) in paths and ("data", "prepare") in paths and ("import", "authors") in paths
    index = (module.CLI_DOCS / module.INDEX).read_text(encoding="utf-8")
    for path in paths:
        assert (module.CLI_DOCS / module.page_name(path)).is_file()
        assert f"({module.page_name(path)})" in index


def test_a_changed_help_text_makes_the_check_fail(tmp_path):
    module = dump_cli_help()
    module.write_pages(tmp_path)
    assert module.stale_pages(tmp_path) == []
    page = tmp_path / "train.md"
    page.write_text(page.read_text(encoding="utf-8").replace("--kimg", "--kilo-images"), encoding="utf-8")
    (tmp_path / "retired-command.md").write_text("# gone\n", encoding="utf-8")
    assert module.stale_pages(tmp_path) == ["retired-command.md", "train.md"]


def markdown_files() -> list[Path]:
    """The README and every page under docs/."""
    return [README, *sorted((REPO / "docs").rglob("*.md"))]


def test_every_relative_link_in_the_docs_resolves():
    broken = []
    for page in markdown_files():
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue  # web addresses and anchors in the same page
            path = (page.parent / target.split("#")[0]).resolve()
            if not path.exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert broken == []


def test_the_readme_is_short_and_keeps_the_set_up_and_test_commands():
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= README_MAX_BYTES
    assert "pip install torch==2.14.1 torchvision==0.29.1" in text
    assert 'pip install -e ".[dev]"' in text
    assert "\npython -m pytest -q\n" in text  # CI runs the README's test command


def test_docs_prose_carries_no_commit_hashes():
    # Figures cite the report or the command that produced them, not the commit they were measured at.
    hash_like = re.compile(r"(?:\bat|@)\s+`?[0-9a-f]{7,40}\b")
    found = [
        f"{page.relative_to(REPO)}: {m.group(0)}"
        for page in markdown_files()
        if "cli" not in page.parts
        for m in hash_like.finditer(page.read_text(encoding="utf-8"))
    ]
    assert found == []
