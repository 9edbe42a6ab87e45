# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""External account binding end to end, against a second Pebble that requires it (externalAccountBindingRequired
with a MAC key): acme_dns01, renew.yml (certwatch_acme.eab_kid, eab_hmac_key from a vault variable) and the
certwatch agent. Without EAB each says which options are missing and what to do, and creates nothing. The HMAC key
never appears in output (-vvv included), logs, reports, or any file but the agent's 0600 secrets."""

from __future__ import annotations

import os
import pathlib
import stat
import typing as t

import pytest
from ansible_run import ROOT, run_module, run_playbook
from conftest import LabHandle
from fleet import DUE, CertSpec, Fleet, HostSpec, read_json

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509

MODULE = "ghostguard.certs.acme_dns01"
PLAYBOOK = os.path.join(ROOT, "playbooks", "renew.yml")
KID = "kid-ghostguard-e2e"
HMAC = "Yn3xLqA8pT0vR2sW5uZ7bC9dE1fG4hJ6kM8nP0qS2tV4wX6yZ8aB0cD2eF4gH6jK"  # base64url, as a CA shows it
OUTPUTS = ("cert.pem", "key.pem", "chain.pem", "fullchain.pem")


@pytest.fixture(scope="module")
def pebble(lab: LabHandle) -> t.Iterator[dict[str, t.Any]]:
    started = lab.extra_pebble("pebble-eab-e2e", eab_keys={KID: HMAC})
    try:
        yield started
    finally:
        lab.stop_pebble("pebble-eab-e2e")


def files_holding(root: pathlib.Path, secret: str) -> list[pathlib.Path]:
    """Every regular file under *root* whose bytes contain *secret*."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if secret.encode() in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found


def test_acme_dns01_with_and_without_eab(lab: LabHandle, pebble: dict[str, t.Any], tmp_path: pathlib.Path) -> None:
    base = lab.args(tmp_path, ["eab1.example.test"], acme_directory=pebble["directory"], acme_ca_bundle=pebble["ca_bundle"])

    missing = run_module(MODULE, base)
    assert missing.rc != 0
    msg = missing.result["msg"]
    assert "requires external account binding" in msg and "eab_kid and eab_hmac_key" in msg, msg
    assert [f for f in OUTPUTS if (tmp_path / f).exists()] == []

    half = run_module(MODULE, {**base, "eab_kid": KID})
    assert half.rc != 0 and "eab_hmac_key is required with eab_kid" in half.result["msg"]
    assert "vault" in half.result["msg"]

    wrong = "A" * 43 + "w"
    refused = run_module(MODULE, {**base, "eab_kid": KID, "eab_hmac_key": wrong})
    assert refused.rc != 0
    assert "external account binding" in refused.result["msg"] and "eab_hmac_key" in refused.result["msg"]
    assert wrong not in refused.stdout + refused.stderr
    assert [f for f in OUTPUTS if (tmp_path / f).exists()] == []

    run = run_module(MODULE, {**base, "eab_kid": KID, "eab_hmac_key": HMAC}, verbosity=3)
    assert run.rc == 0, run.stdout[-3000:]
    assert run.result["changed"] is True and run.result["account_uri"]
    assert HMAC not in run.stdout + run.stderr
    leaf = _x509.load_certificates((tmp_path / "cert.pem").read_bytes())[0][0]
    roots = _x509.load_certificates(pathlib.Path(pebble["issuer_roots"]).read_bytes())[0]
    chain = _x509.load_certificates((tmp_path / "chain.pem").read_bytes())[0]
    assert _x509.verify_chain(leaf, chain, roots) is None  # issued by the EAB Pebble
    assert files_holding(tmp_path, HMAC) == []
    assert lab.challenge_txt_everywhere() == {}


@pytest.fixture(scope="module")
def fleet(lab: LabHandle, pebble: dict[str, t.Any], tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Fleet]:
    spec = [HostSpec("eab-web-1", "api", "nginx", CertSpec("web", ["eabweb.example.test"], **DUE))]
    fleet = Fleet(str(tmp_path_factory.mktemp("eab-fleet")), lab.info, spec).start()
    with open(fleet.trust, "ab") as handle, open(pebble["issuer_roots"], "rb") as roots:
        handle.write(b"\n" + roots.read())  # the probes trust what the EAB Pebble issues
    try:
        yield fleet
    finally:
        fleet.stop()


def renew(fleet: Fleet, pebble: dict[str, t.Any], tmp: pathlib.Path, tag: str, eab: bool) -> tuple[t.Any, pathlib.Path]:
    extra = {"directory": pebble["directory"], "ca_bundle": pebble["ca_bundle"]}
    if eab:
        extra.update(eab_kid=KID, eab_hmac_key="{{ vault_eab_hmac_key }}")
    inventory = fleet.write_inventory(directory=str(tmp / ("inventory-" + tag)), acme_extra=extra,
                                      vault_extra={"vault_eab_hmac_key": HMAC})
    report_dir = tmp / ("report-" + tag)
    log = tmp / ("ansible-%s.log" % tag)
    proc = run_playbook(PLAYBOOK, {"renew_store": fleet.store, "renew_report_dir": str(report_dir),
                                   "renew_probe_retry_delay": 0.25, "renew_probe_retries": 12},
                        inventory=inventory, args=[*fleet.vault_args, "-vvv"], timeout=900, ANSIBLE_LOG_PATH=str(log))
    return proc, report_dir


def test_renew_yml_orders_with_eab_from_the_vault(fleet: Fleet, pebble: dict[str, t.Any], tmp_path: pathlib.Path) -> None:
    old = fleet.served("eab-web-1")
    without, _report_dir = renew(fleet, pebble, tmp_path, "no-eab", eab=False)
    out = without.stdout + without.stderr
    assert without.returncode != 0
    assert "requires external account binding" in out and "eab_kid and eab_hmac_key" in out, out[-4000:]
    assert fleet.served("eab-web-1") == old

    proc, report_dir = renew(fleet, pebble, tmp_path, "eab", eab=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    report = read_json(str(report_dir / "report.json"))
    rows = {(r["host"], r["name"]): r for r in report["rows"]}
    assert rows[("eab-web-1", "web")]["outcome"] == "renewed" and rows[("eab-web-1", "web")]["proved"] is True
    served = fleet.served_cert("eab-web-1")
    roots = _x509.load_certificates(pathlib.Path(pebble["issuer_roots"]).read_bytes())[0]
    chain = _x509.load_certificates(pathlib.Path(fleet.files("eab-web-1")["chain"]).read_bytes())[0]
    assert fleet.served("eab-web-1") != old and _x509.verify_chain(served, chain, roots) is None  # the EAB Pebble's
    # the HMAC key: not in -vvv output, the Ansible log, the reports, the store, the hosts' files
    assert HMAC not in out
    for where in (tmp_path, pathlib.Path(fleet.root)):
        leaked = files_holding(where, HMAC)
        assert leaked == [], leaked
    assert (tmp_path / "ansible-eab.log").stat().st_size > 0


def test_the_agent_issues_with_eab_and_keeps_the_key_in_its_0600_secrets(
        lab: LabHandle, pebble: dict[str, t.Any], tmp_path: pathlib.Path) -> None:
    from eab_agent import install_and_renew

    run = install_and_renew(lab.info, pebble, tmp_path, KID, HMAC)
    assert run["install_rc"] == 0, run["install_out"][-4000:]
    assert HMAC not in run["install_out"]
    assert run["renew_rc"] == 0, run["renew_out"][-4000:]
    assert HMAC not in run["renew_out"]
    leaf = _x509.load_certificates(run["cert_path"].read_bytes())[0][0]
    assert _x509.fingerprint(leaf) != run["old_fingerprint"]
    holding = files_holding(tmp_path, HMAC)
    assert holding == [run["credentials"]], holding
    assert stat.S_IMODE(os.stat(run["credentials"]).st_mode) == 0o600
    assert KID in run["config"].read_text() and HMAC not in run["config"].read_text()
