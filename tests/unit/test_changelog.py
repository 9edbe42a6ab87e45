# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The changelog fragments as antsibull-changelog reads them: only the sections of changelogs/config.yaml, one
release summary for the unreleased version, and every other entry one line a reader takes in at a glance."""

from __future__ import annotations

import pathlib
import typing as t

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHANGELOGS = ROOT / "changelogs"
MAX_ENTRY = 160


def _config() -> dict[str, t.Any]:
    return t.cast("dict[str, t.Any]", yaml.safe_load((CHANGELOGS / "config.yaml").read_text(encoding="utf-8")))


def _fragments() -> dict[str, dict[str, t.Any]]:
    found = {}
    for path in sorted((CHANGELOGS / "fragments").iterdir()):
        assert path.suffix in (".yml", ".yaml"), path   # config: ignore_other_fragment_extensions
        assert "playbook" not in path.name, path
        found[path.name] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return found


def test_fragments_use_the_configured_sections_only() -> None:
    config = _config()
    known = {name for name, _title in config["sections"]} | {config["prelude_section_name"], config["trivial_section_name"]}
    fragments = _fragments()
    assert len(fragments) > 10
    for name, content in fragments.items():
        assert isinstance(content, dict) and content, name
        assert set(content) <= known, (name, set(content) - known)


def test_one_release_summary_for_the_unreleased_version() -> None:
    prelude = _config()["prelude_section_name"]
    summaries = [content[prelude] for content in _fragments().values() if prelude in content]
    assert len(summaries) == 1
    assert isinstance(summaries[0], str) and "\n" not in summaries[0] and "ghostguard.certs" in summaries[0]
    changes = yaml.safe_load((CHANGELOGS / "changelog.yaml").read_text(encoding="utf-8"))
    assert not changes["releases"]   # 0.1.0 is not released yet: the summary is still a fragment


def test_every_entry_is_one_short_line() -> None:
    prelude = _config()["prelude_section_name"]
    entries: list[str] = []
    for name, content in _fragments().items():
        for section, items in content.items():
            if section == prelude:
                continue
            assert isinstance(items, list) and items, (name, section)
            for item in items:
                assert isinstance(item, str), (name, item)
                assert "\n" not in item and len(item) <= MAX_ENTRY, (name, len(item), item)
                entries.append(item)
    assert len(entries) == len(set(entries)), "the same entry twice"


def test_every_plugin_is_new_in_a_release_or_the_next_one() -> None:
    """antsibull-changelog lists a plugin as new in the release its version_added names: a version that is neither
    released nor galaxy.yml's next one (0.2.0 while 0.1.0 is unreleased) leaves it out of every New Modules list."""
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["version"]
    released = yaml.safe_load((CHANGELOGS / "changelog.yaml").read_text(encoding="utf-8"))["releases"] or {}
    allowed = {str(v) for v in released} | {str(version)}
    seen = 0
    for path in sorted((ROOT / "plugins").rglob("*")):
        if path.suffix not in (".py", ".yml") or "module_utils" in path.parts:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("version_added:"):
                seen += 1
                assert line.split(":", 1)[1].strip().strip("'\"") in allowed, (path, line)
    assert seen >= 30
