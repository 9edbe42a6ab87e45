# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Names through renew.yml on a loopback fleet: names a CA refuses stop the run at validation (each with its
reason, nothing ordered or changed); a Unicode IDN is planned, ordered, installed and proved as its A-label, and
the plan and the report show both forms; the per-domain limit counts the registered domain by the Public
Suffix List."""

from __future__ import annotations

import json
import os
import pathlib
import sys
import typing as t

import pytest
from ansible_run import ROOT, run_playbook
from conftest import LabHandle
from cryptography import x509
from fleet import DUE, FRESH, CertSpec, Fleet, HostSpec, read_json

PLAYBOOK = os.path.join(ROOT, "playbooks", "renew.yml")
IDN = ["*.xn--bcher-kva.example.test", "xn--bcher-kva.example.test"]            # what the CA sees
AS_WRITTEN = ["*.Bücher.example.test", "bücher.example.test"]                   # what the inventory says
BOTH = "*.xn--bcher-kva.example.test (*.bücher.example.test),xn--bcher-kva.example.test (bücher.example.test)"


class Run:
    def __init__(self, proc: t.Any, report_dir: pathlib.Path) -> None:
        self.rc = proc.returncode
        self.out = proc.stdout + proc.stderr
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "ansible.log").write_text(self.out)
        self.plan = read_json(str(report_dir / "plan.json")) if (report_dir / "plan.json").exists() else None
        self.report = read_json(str(report_dir / "report.json")) if (report_dir / "report.json").exists() else None
        self.text = (report_dir / "report.txt").read_text() if (report_dir / "report.txt").exists() else ""
        self.html = (report_dir / "report.html").read_text() if (report_dir / "report.html").exists() else ""


def new_orders(lab: LabHandle) -> list[list[str]]:
    return [sorted(o.get("identifiers", [])) for o in lab.proxy_stats().get("orders", []) if o.get("status") == 201]


@pytest.fixture(scope="module")
def fleet(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Fleet]:
    """An nginx host whose certificate (wildcard listed first) is an IDN and due, and a fresh gRPC host."""
    lab.proxy_control()
    spec = [HostSpec("nm-shop-1", "api", "nginx", CertSpec("shop", IDN, **DUE)),
            HostSpec("nm-edge-1", "edge", "grpc", CertSpec("edge", ["nmedge.example.test"], **FRESH))]
    fleet = Fleet(str(tmp_path_factory.mktemp("names-fleet")), lab.info, spec).start()
    fleet.write_inventory(unicode_names)
    try:
        yield fleet
    finally:
        fleet.stop()
        lab.proxy_control()


def unicode_names(host_vars: dict[str, dict[str, t.Any]]) -> None:
    """The IDN host's inventory in Unicode, wildcard first, mixed case (the old certificate holds the A-labels)."""
    host_vars["nm-shop-1"]["certwatch_certificates"][0]["domains"] = list(AS_WRITTEN)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("names-runs")


def renew(fleet: Fleet, tmp: pathlib.Path, inventory: str | None = None, **extra: t.Any) -> Run:
    report_dir = tmp / ("report-%d" % len(list(tmp.glob("report-*"))))
    extra_vars = {"renew_store": fleet.store, "renew_report_dir": str(report_dir), "renew_probe_retry_delay": 0.25,
                  "renew_probe_retries": 12, **extra}
    proc = run_playbook(PLAYBOOK, extra_vars, inventory=inventory or fleet.inventory, args=fleet.vault_args, timeout=900)
    return Run(proc, report_dir)


def test_names_a_ca_refuses_stop_the_run_with_each_reason(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    def refused(host_vars: dict[str, dict[str, t.Any]]) -> None:
        unicode_names(host_vars)
        host_vars["nm-edge-1"]["certwatch_certificates"][0]["domains"] = [
            "grpc_api.example.test", "a..example.test", "a.*.example.test", "127.0.0.1", "x" * 64 + ".example.test",
            "☃.example.test", "nmedge.example.test"]
        host_vars["nm-edge-1"]["certwatch_certificates"][0]["probe"]["server_name"] = "*.example.test"
        host_vars["nm-shop-1"]["certwatch_allowed_domains"] = ["*.example.test", "com.cn", "*.com"]
        host_vars["nm-shop-1"]["certwatch_certificates"].append(
            {"name": "suffix", "domains": ["com.cn", "*.com"], "cert_path": "/tmp/nm-never/cert.pem"})

    inventory = fleet.write_inventory(refused, directory=str(tmp / "refused-inventory"))
    before, served = len(new_orders(lab)), fleet.snapshot()
    run = renew(fleet, tmp, inventory=inventory)
    assert run.rc != 0
    assert "The inventory is not usable; nothing was ordered or changed. Fix:" in run.out
    edge = "host nm-edge-1, certificate edge, field domains: "
    for problem in (
        edge + "'grpc_api.example.test' is not a DNS name a CA issues for: the label 'grpc_api' has an underscore, "
               "which CAs refuse in certificate names (use a hyphen)",
        edge + "'a..example.test' is not a DNS name a CA issues for: it has an empty label (two dots in a row, or a "
               "leading dot)",
        edge + "'a.*.example.test' is not a DNS name a CA issues for: a wildcard is allowed only as the whole first "
               "label, like *.example.com",
        edge + "'127.0.0.1' is an IP address: certificates here are for DNS names; use a DNS name that resolves to it",
        edge + "'%s.example.test' is not a DNS name a CA issues for: the label '%s' is 64 characters long (at most 63)"
        % ("x" * 64, "x" * 64),
        edge + "'☃.example.test' is not a DNS name a CA issues for: the label '☃' has no A-label form (IDNA 2008 with "
               "UTS 46 mapping)",
        "host nm-edge-1, certificate edge, field probe.server_name: '*.example.test' is a wildcard; give a name it covers",
        "host nm-shop-1, certificate suffix, field domains: 'com.cn' is not a DNS name a CA issues for: com.cn is a "
        "public suffix (Public Suffix List): CAs issue only for names below it, like example.com.cn",
        "host nm-shop-1, certificate suffix, field domains: '*.com' is not a DNS name a CA issues for: a wildcard over "
        "the top-level domain 'com'",
    ):
        assert problem in run.out, (problem, run.out[-6000:])
    assert "nmedge.example.test' is not" not in run.out and "bücher" not in run.out   # good names are not refused
    assert run.plan is None and len(new_orders(lab)) == before and fleet.snapshot() == served


def test_dry_run_plans_the_idn_as_its_a_label_and_counts_registered_domains(fleet: Fleet, lab: LabHandle,
                                                                            tmp: pathlib.Path) -> None:
    # one more host whose name is under com.cn: counted against example.com.cn, never against com.cn
    cn_host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
               "certwatch_cert_dir": str(tmp / "nm-cn-certs"), "certwatch_allowed_domains": ["*.example.com.cn"],
               "certwatch_certificates": [{"name": "cn", "domains": ["api.example.com.cn"]}]}
    inventory = fleet.write_inventory(unicode_names, directory=str(tmp / "dry-inventory"), extra_hosts={"nm-cn-1": cn_host})
    before, served = len(new_orders(lab)), fleet.snapshot()
    run = renew(fleet, tmp, inventory=inventory, renew_dry_run=True)
    assert run.rc == 0, run.out[-6000:]
    assert run.plan is not None and run.report is None
    sets = {s["set"]: s for s in run.plan["sets"]}
    assert sets[",".join(IDN)]["domains"] == IDN and sets[",".join(IDN)]["due"]
    assert sets[",".join(IDN)]["mode"] == "host_key"
    assert sorted(o["domains"] for o in run.plan["orders"]) == [IDN, ["api.example.com.cn"]]
    assert BOTH in run.out                                   # the plan table: both forms of each IDN
    scopes = {c["scope"]: c for c in run.plan["budget"]["checks"] if c["limit"] == "per_registered_domain_week"}
    assert set(scopes) == {"example.com.cn", "example.test"} and scopes["example.com.cn"]["planned"] == 1
    # the probe's SNI is the A-label of the first name that is not a wildcard (the wildcard is listed first)
    shop = run.plan["deploys"]["nm-shop-1"][0]["cert"]
    assert shop["domains"] == IDN and [p["server_name"] for p in shop["probes"]] == ["xn--bcher-kva.example.test"]
    assert "Dry run: nothing was ordered or changed" in run.out
    assert len(new_orders(lab)) == before and fleet.snapshot() == served


def test_the_idn_is_ordered_installed_and_proved_as_its_a_label(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    before = len(new_orders(lab))
    old = fleet.served("nm-shop-1")
    run = renew(fleet, tmp)
    assert run.rc == 0, run.out[-6000:]
    assert new_orders(lab)[before:] == [IDN]                  # one order, A-labels only
    served = fleet.served_cert("nm-shop-1")
    assert fleet.served("nm-shop-1") != old
    sans = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sorted(sans) == IDN
    assert run.report is not None
    rows = {(r["host"], r["name"]): r for r in run.report["rows"]}
    shop, edge = rows[("nm-shop-1", "shop")], rows[("nm-edge-1", "edge")]
    assert shop["outcome"] == "renewed" and shop["proved"] is True and shop["domains"] == IDN
    assert edge["outcome"] == "unchanged" and edge["domains"] == ["nmedge.example.test"]
    line = next(x for x in run.text.splitlines() if x.startswith("RENEWED"))
    assert line.split()[:3] == ["RENEWED", "nm-shop-1", "shop"] and BOTH in line
    assert BOTH in run.html and BOTH in run.out
    assert "bücher" not in json.dumps(run.report, ensure_ascii=False)   # report.json keeps the A-labels only
    assert lab.txt("_acme-challenge.xn--bcher-kva.example.test") == set()  # the challenge records are gone
