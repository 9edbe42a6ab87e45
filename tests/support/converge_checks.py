# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the convergence tests check on a fleet host: the files, the generation store, its proof marker."""

from __future__ import annotations

import os
import pathlib
import typing as t

from cryptography import x509
from deploy_lab import fp
from fleet import Fleet, read_json


def file_fp(fleet: Fleet, host: str) -> str:
    with open(fleet.files(host)["cert"], "rb") as handle:
        return fp(x509.load_pem_x509_certificate(handle.read()))


def store_dir(fleet: Fleet, host: str) -> str:
    name = fleet.host(host).cert.name
    return os.path.join(fleet.cert_dir(host), name, ".ghostguard", name)


def switch_target(fleet: Fleet, host: str) -> str | None:
    """Where the store's switching link ``..<name>.data`` points (None before the first install)."""
    name = fleet.host(host).cert.name
    try:
        return os.readlink(os.path.join(fleet.cert_dir(host), name, "..%s.data" % name))
    except OSError:
        return None


def proved_marker(fleet: Fleet, host: str) -> dict[str, t.Any] | None:
    path = os.path.join(store_dir(fleet, host), "proved.json")
    return t.cast("dict[str, t.Any] | None", read_json(path)) if os.path.exists(path) else None


def assert_converged(fleet: Fleet, host: str) -> str:
    """The host serves what its files hold, and that is the store's current generation, proved."""
    served = fleet.served(host)
    assert served == file_fp(fleet, host), host
    marker = proved_marker(fleet, host)
    target = switch_target(fleet, host)
    assert marker is not None and target is not None, (host, marker, target)
    assert marker["fingerprint"] == served and "gen-%d" % marker["generation"] == os.path.basename(target), (host, marker)
    return served


class Run:
    """One renew.yml run of a convergence test: its exit code, its output (kept as ansible.log in the report
    directory), the plan and the report it wrote (None when it wrote none)."""

    def __init__(self, rc: int, out: str, report_dir: pathlib.Path) -> None:
        self.rc = rc
        self.out = out
        self.report_dir = report_dir
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "ansible.log").write_text(out)
        self.plan = read_json(str(report_dir / "plan.json")) if (report_dir / "plan.json").exists() else None
        self.report = read_json(str(report_dir / "report.json")) if (report_dir / "report.json").exists() else None

    def rows(self) -> dict[str, dict[str, t.Any]]:
        assert self.report is not None, self.out[-6000:]
        return {r["host"]: r for r in self.report["rows"]}

    def holders(self) -> dict[str, dict[str, t.Any]]:
        assert self.plan is not None, self.out[-6000:]
        return {h["host"]: h for s in self.plan["sets"] for h in s["holders"]}
