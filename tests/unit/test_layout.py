# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's shape: the README's architecture map matches the tree, tests mirror it, no Ansible import.

Complexity, not length, bounds a file: ruff's C901, PLR0912 and PLR0915 (pyproject.toml, `make lint`)."""

from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
ENGINE = ROOT / "plugins" / "module_utils"
FILES = sorted(p.relative_to(ENGINE).as_posix() for p in ENGINE.rglob("*.py") if p.name != "__init__.py")


def test_readme_architecture_lists_every_engine_file_and_no_other() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Architecture: the engine"):readme.index("## Layout")]
    listed = sorted(re.findall(r"^\| `([\w/]+\.py)` \|", section, re.M))
    assert listed == FILES


@pytest.mark.parametrize("name", FILES)
def test_every_engine_file_has_its_unit_test(name: str) -> None:
    path = pathlib.PurePosixPath(name)
    mirror = ROOT / "tests" / "unit" / "plugins" / "module_utils" / path.parent / ("test_" + path.stem.lstrip("_") + ".py")
    assert mirror.is_file(), "%s has no unit test file %s" % (name, mirror.relative_to(ROOT))


@pytest.mark.parametrize("name", FILES)
def test_engine_files_are_free_of_ansible(name: str) -> None:
    text = (ENGINE / name).read_text()
    assert not re.search(r"^\s*(from|import) ansible\b", text, re.M), "%s imports Ansible" % name
