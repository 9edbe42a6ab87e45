# SPDX-License-Identifier: GPL-3.0-or-later
"""Prometheus textfile rendering, atomic writes and counters that persist across runs."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils._agent import metrics as _metrics
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import FileSystemError


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(("value", "text"), [
    (1.0, "1"), (0, "0"), (-3.0, "-3"), (1.5, "1.5"), (1e20, "1e+20"),
    (float("nan"), "NaN"), (float("inf"), "+Inf"), (float("-inf"), "-Inf"),
])
def test_numbers(value: float, text: str) -> None:
    assert _metrics._number(value) == text


def test_render_escapes_labels_and_sorts_samples() -> None:
    reg = _metrics.Registry()
    fam = reg.gauge("demo_seconds", "Help with a \\ backslash\nand a newline")
    fam.set(2, name="b", filepath='/x/"q"\\.pem')
    fam.set(1, name="a", filepath="/a.pem")
    reg.gauge("empty_family", "never set")
    text = reg.render()
    assert text == (
        "# HELP demo_seconds Help with a \\\\ backslash\\nand a newline\n"
        "# TYPE demo_seconds gauge\n"
        'demo_seconds{filepath="/a.pem",name="a"} 1\n'
        'demo_seconds{filepath="/x/\\"q\\"\\\\.pem",name="b"} 2\n'
    )
    assert "empty_family" not in text


def test_family_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="gauge, counter"):
        _metrics.Family("x", "histogram", "no")


@pytest.mark.lab  # runs promtool from apt
def test_counters_persist_and_only_grow(tmp_path: pathlib.Path) -> None:
    state = str(tmp_path / "counters.json")
    first = _metrics.Counters(state)
    first.declare("jobs_total", "Jobs", name="a")
    first.inc("jobs_total", name="a")
    first.inc("jobs_total", 2, name="b")
    first.save()
    assert oct(os.stat(state).st_mode & 0o777) == "0o600"
    second = _metrics.Counters(state)
    second.declare("jobs_total", "Jobs", name="a")  # declaring again keeps the value
    second.inc("jobs_total", name="a")
    assert second.get("jobs_total", name="a") == 2
    assert second.get("jobs_total", name="b") == 2
    with pytest.raises(ValueError, match="only grows"):
        second.inc("jobs_total", -1, name="a")
    reg = _metrics.Registry()
    second.add_to(reg)
    text = reg.render()
    assert text.split("# HELP jobs_total Jobs\n")[1] == '# TYPE jobs_total counter\njobs_total{name="a"} 2\njobs_total{name="b"} 2\n'
    assert promtool_check(text).returncode == 0


def test_corrupt_counter_state_restarts_at_zero(tmp_path: pathlib.Path) -> None:
    state = tmp_path / "counters.json"
    state.write_text("{not json")
    counters = _metrics.Counters(str(state))
    assert counters.load_error is not None and "restart at 0" in counters.load_error
    assert counters.get("jobs_total") == 0
    state.write_text(json.dumps({"counters": {"jobs_total": [{"labels": {}, "value": "x"}, {"labels": {}}]}}))
    assert _metrics.Counters(str(state)).values == {"jobs_total": {}}


def test_memory_only_counters_never_write(tmp_path: pathlib.Path) -> None:
    counters = _metrics.Counters(None)
    counters.inc("jobs_total")
    counters.save()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.lab  # runs promtool from apt
def test_textfile_is_written_atomically(tmp_path: pathlib.Path) -> None:
    reg = _metrics.Registry()
    reg.gauge("demo_value", "A demo").set(1)
    path = _metrics.write_textfile(str(tmp_path), "ghostguard", reg.render())
    assert path == str(tmp_path / "ghostguard.prom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ghostguard.prom"]  # no temp file left behind
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert promtool_check(pathlib.Path(path).read_text()).returncode == 0


def test_textfile_directory_must_exist(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileSystemError, match="does not exist; create it"):
        _metrics.write_textfile(str(tmp_path / "nope"), "ghostguard", "")


def test_unchanged_counters_are_not_rewritten(tmp_path: pathlib.Path) -> None:
    state = tmp_path / "counters.json"
    first = _metrics.Counters(str(state))
    first.declare("jobs_total", "Jobs", name="a")
    first.save()
    inode, text = state.stat().st_ino, state.read_text()
    again = _metrics.Counters(str(state))
    again.declare("jobs_total", "Jobs", name="a")
    again.save()  # nothing counted: the file is left as it is (a new file would be a new inode)
    assert state.stat().st_ino == inode and state.read_text() == text
    again.inc("jobs_total", name="a")
    again.save()
    assert state.stat().st_ino != inode and _metrics.Counters(str(state)).get("jobs_total", name="a") == 1
