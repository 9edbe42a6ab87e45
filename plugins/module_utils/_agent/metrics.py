# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Prometheus textfile output for the host agent, and counters that survive between runs.

node_exporter's textfile collector reads ``*.prom`` files and ignores anything else, so the file
is written to a hidden temp name in the same directory and renamed (a scrape sees the old file or
the new one, never half of one).  Counters (``*_total``) must only grow across agent runs, so
their values live in a small JSON state file that is read at the start of a run and written at
its end.

Plain Python, no Ansible import, no third-party library.
"""

from __future__ import annotations

import json
import math
import os
import typing as t

from .._durable import write_atomic
from .._errors import FileSystemError

Labels = tuple[tuple[str, str], ...]
KINDS = ("gauge", "counter")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def labels_key(labels: t.Mapping[str, t.Any]) -> Labels:
    """A hashable, ordered form of a label set (values as strings; None becomes empty)."""
    return tuple(sorted((str(k), "" if v is None else str(v)) for k, v in labels.items()))


class Family:
    """One metric family: name, type, help and its samples (one per label set)."""

    def __init__(self, name: str, kind: str, help_text: str) -> None:
        if kind not in KINDS:
            raise ValueError("metric kind must be one of %s" % ", ".join(KINDS))
        self.name = name
        self.kind = kind
        self.help = help_text
        self.samples: dict[Labels, float] = {}

    def set(self, value: float, **labels: t.Any) -> None:
        self.samples[labels_key(labels)] = float(value)

    def render(self) -> str:
        lines = ["# HELP %s %s" % (self.name, _escape_help(self.help)), "# TYPE %s %s" % (self.name, self.kind)]
        for key in sorted(self.samples):
            text = ",".join('%s="%s"' % (k, _escape(v)) for k, v in key)
            lines.append("%s%s %s" % (self.name, "{%s}" % text if text else "", _number(self.samples[key])))
        return "\n".join(lines) + "\n"


class Registry:
    """The families of one run, rendered in the order they were declared."""

    def __init__(self) -> None:
        self.families: dict[str, Family] = {}

    def family(self, name: str, kind: str, help_text: str) -> Family:
        if name not in self.families:
            self.families[name] = Family(name, kind, help_text)
        return self.families[name]

    def gauge(self, name: str, help_text: str) -> Family:
        return self.family(name, "gauge", help_text)

    def render(self) -> str:
        # A family without samples is left out: promtool accepts it, but it only adds noise.
        return "".join(f.render() for f in self.families.values() if f.samples)


class Counters:
    """Monotonic counters persisted in a JSON state file between runs.

    ``path`` None keeps them in memory only (``certwatch status`` never writes).
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.values: dict[str, dict[Labels, float]] = {}
        self.help: dict[str, str] = {}
        self.load_error: str | None = None
        self._stored: str | None = None   # the file's text as read: save() leaves an unchanged file alone
        if path is not None:
            self._load(path)

    def _load(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            data = json.loads(text)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            # A corrupt state file must not stop the agent; counters restart from 0, which
            # Prometheus' rate() treats as a counter reset.
            self.load_error = "counter state %s unreadable (%s); counters restart at 0" % (path, exc)
            return
        for name, rows in (data.get("counters") or {}).items():
            family = self.values.setdefault(str(name), {})
            for row in rows:
                try:
                    family[labels_key(row.get("labels") or {})] = max(0.0, float(row["value"]))
                except (KeyError, TypeError, ValueError):
                    continue
        self._stored = text

    def declare(self, metric: str, help_text: str, **labels: t.Any) -> None:
        """Make sure the counter exists (at 0) so that rate() has a first point before the first event."""
        self.help[metric] = help_text
        self.values.setdefault(metric, {}).setdefault(labels_key(labels), 0.0)

    def inc(self, metric: str, amount: float = 1.0, **labels: t.Any) -> None:
        if amount < 0:
            raise ValueError("a counter only grows")
        family = self.values.setdefault(metric, {})
        key = labels_key(labels)
        family[key] = family.get(key, 0.0) + amount

    def retain(self, keep: t.Callable[[str, dict[str, str]], bool]) -> None:
        """Forget every series *keep(metric, labels)* refuses (a certificate or endpoint that left the configuration)."""
        for name in list(self.values):
            rows = {key: value for key, value in self.values[name].items() if keep(name, dict(key))}
            if rows:
                self.values[name] = rows
            else:
                del self.values[name]
                self.help.pop(name, None)

    def get(self, metric: str, **labels: t.Any) -> float:
        return self.values.get(metric, {}).get(labels_key(labels), 0.0)

    def add_to(self, registry: Registry) -> None:
        for name in sorted(self.values):
            family = registry.family(name, "counter", self.help.get(name, name.replace("_", " ")))
            for key, value in self.values[name].items():
                family.samples[key] = value

    def save(self) -> None:
        if self.path is None:
            return
        data = {
            "counters": {
                name: [{"labels": dict(key), "value": value} for key, value in sorted(rows.items())]
                for name, rows in sorted(self.values.items())
            }
        }
        text = json.dumps(data, indent=1, sort_keys=True) + "\n"
        if text == self._stored:
            return  # nothing counted since the last run (no rewrite, no fsync)
        write_atomic(self.path, text.encode(), 0o600)
        self._stored = text


def write_textfile(directory: str, name: str, text: str) -> str:
    """Write ``<directory>/<name>.prom`` atomically (temp file + rename); return its path."""
    if not os.path.isdir(directory):
        raise FileSystemError(
            "metrics directory %s does not exist; create it (the node exporter's textfile directory) or set "
            "metrics_dir" % directory, path=directory
        )
    path = os.path.join(directory, name + ".prom")
    write_atomic(path, text.encode("utf-8"), 0o644, durable=False)  # rewritten on every run: atomic is enough
    return path
