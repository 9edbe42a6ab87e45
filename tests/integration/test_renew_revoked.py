# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renew.yml renews a revoked certificate: two nginx hosts with fresh certificates (nothing due by time) from a
CA of our own whose CRL is served on loopback; one of them is revoked. The observation finds it (CRL checked
against the issuer), the plan orders it with the reason, the report row says why; certwatch_policy
revocation_check: false turns it off (nothing due)."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import typing as t

import pytest
from ansible_run import ROOT, run_playbook
from certgen import Issued, TestCA
from conftest import LabHandle
from crl_lab import CrlLab
from cryptography import x509
from fleet import FRESH, CertSpec, Fleet, HostSpec, read_json

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509

PLAYBOOK = os.path.join(ROOT, "playbooks", "renew.yml")
GONE, KEPT = "rv-web-1", "rv-web-2"


@pytest.fixture(scope="module")
def crl() -> t.Iterator[CrlLab]:
    with CrlLab() as lab:
        yield lab


@pytest.fixture(scope="module")
def fleet(lab: LabHandle, crl: CrlLab, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Fleet]:
    lab.proxy_control()
    point = x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(crl.url())], relative_name=None,
                                   reasons=None, crl_issuer=None)

    def issue(names: t.Sequence[str], **kw: t.Any) -> Issued:  # the fleet's certificates name the CRL
        return TestCA.issue(crl.ca, names, extensions=[x509.CRLDistributionPoints([point])], **kw)

    crl.ca.issue = issue  # type: ignore[method-assign]
    spec = [HostSpec(GONE, "api", "nginx", CertSpec("web", ["rvgone.example.test"], **FRESH)),
            HostSpec(KEPT, "api", "nginx", CertSpec("web", ["rvkept.example.test"], **FRESH))]
    fleet = Fleet(str(tmp_path_factory.mktemp("revoked-fleet")), lab.info, spec)
    fleet.ca = crl.ca
    fleet.start()
    gone = _x509.load_certificates(pathlib.Path(fleet.files(GONE)["cert"]).read_bytes())[0][0]
    crl.revoked.append((gone.serial_number, dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)))
    crl.publish()
    try:
        yield fleet
    finally:
        fleet.stop()


def renew(fleet: Fleet, tmp: pathlib.Path, tag: str, inventory: str | None = None, **extra: t.Any) -> tuple[t.Any, pathlib.Path]:
    report_dir = tmp / ("report-" + tag)
    proc = run_playbook(PLAYBOOK, {"renew_store": fleet.store, "renew_report_dir": str(report_dir),
                                   "renew_probe_retry_delay": 0.25, "renew_probe_retries": 12, **extra},
                        inventory=inventory or fleet.inventory, args=fleet.vault_args, timeout=900)
    return proc, report_dir


def test_a_revoked_certificate_is_renewed_and_the_reason_shown(fleet: Fleet, crl: CrlLab, tmp_path: pathlib.Path) -> None:
    def no_revocation(host_vars: dict[str, dict[str, t.Any]]) -> None:
        for data in host_vars.values():
            data["certwatch_policy"] = {"renew_fraction": 0.34, "alert_before": "72h", "revocation_check": False}

    hits = crl.hits.get("/ca.crl", 0)
    off = fleet.write_inventory(no_revocation, directory=str(tmp_path / "inventory-off"))
    proc, report_dir = renew(fleet, tmp_path, "off", inventory=off, renew_dry_run=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert read_json(str(report_dir / "plan.json"))["orders"] == []
    assert crl.hits.get("/ca.crl", 0) == hits  # revocation_check: false asks nobody

    old = {h: fleet.served(h) for h in (GONE, KEPT)}
    proc, report_dir = renew(fleet, tmp_path, "on")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert crl.hits.get("/ca.crl", 0) > hits
    plan = read_json(str(report_dir / "plan.json"))
    assert [o["domains"] for o in plan["orders"]] == [["rvgone.example.test"]]
    gone_set = next(s for s in plan["sets"] if s["domains"] == ["rvgone.example.test"])
    assert gone_set["why"][0].startswith("%s/web: revoked by its CA (crl %s" % (GONE, crl.url()))
    assert "revoked by its CA" in out  # the plan table
    rows = {r["host"]: r for r in read_json(str(report_dir / "report.json"))["rows"]}
    assert rows[GONE]["outcome"] == "renewed" and rows[GONE]["proved"] is True
    assert rows[GONE]["why"].startswith("revoked by its CA")
    assert rows[KEPT]["outcome"] == "unchanged"
    assert fleet.served(GONE) != old[GONE] and fleet.served(KEPT) == old[KEPT]
