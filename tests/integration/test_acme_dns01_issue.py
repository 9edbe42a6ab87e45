# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""acme_dns01 issues real certificates from Pebble through BIND9 (RFC 2136) and the Alidns stand-in."""

from __future__ import annotations

import json
import os
import pathlib
import stat
import typing as t

from ansible_run import run_module, run_playbook
from conftest import LabHandle

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509

MODULE = "ghostguard.certs.acme_dns01"
DESCRIPTION_KEYS = {"path", "subject", "sans", "issuer", "serial", "fingerprint_sha256", "not_before", "not_after",
                    "seconds_remaining", "lifetime_seconds", "renew_at", "due", "status"}


def assert_installed(lab: LabHandle, tmp: pathlib.Path, names: list[str], roots: str | None = None) -> t.Any:
    """The files a user would check: key 0600 matching the cert, chain verifying to Pebble's root, every name."""
    leaf = _x509.load_certificates((tmp / "cert.pem").read_bytes())[0][0]
    chain = _x509.load_certificates((tmp / "chain.pem").read_bytes())[0]
    full = _x509.load_certificates((tmp / "fullchain.pem").read_bytes())[0]
    assert [_x509.fingerprint(c) for c in full] == [_x509.fingerprint(c) for c in [leaf, *chain]]
    rootcerts = _x509.load_certificates(pathlib.Path(roots or lab.info["issuer_roots"]).read_bytes())[0]
    assert _x509.verify_chain(leaf, chain, rootcerts) is None
    assert stat.S_IMODE(os.stat(tmp / "key.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp / "account.key").st_mode) == 0o600
    key = _x509.load_private_key((tmp / "key.pem").read_bytes())
    assert _x509.public_key_matches(leaf, key)
    assert _x509.names_cover(leaf, names) == []
    assert _x509.key_description(leaf.public_key()) == "ec-p256"
    assert lab.challenge_txt_everywhere() == {}
    return leaf


def created_orders(lab: LabHandle, names: list[str], since: int = 0) -> list[dict[str, t.Any]]:
    """Orders Pebble created (201) for exactly *names*, oldest first: a newOrder that Pebble answered with badNonce
    (the lab's Pebble rejects 5 % of nonces) and that the client sent again is not an order."""
    wanted = sorted(names)
    return [o for o in lab.proxy_stats().get("orders", [])[since:]
            if o.get("status") == 201 and sorted(o.get("identifiers", [])) == wanted]


def test_rfc2136_issue_then_not_due_then_force(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    names = ["www.example.test", "example.test"]
    args = lab.args(tmp_path, names, via_proxy=True)

    first = run_module(MODULE, args)
    assert first.rc == 0, first.stdout + first.stderr
    res = first.result
    assert res["changed"] is True and res["renewed"] is True and res["reason"] == "no_certificate"
    assert set(res["certificate"]) >= DESCRIPTION_KEYS
    assert res["certificate"]["path"] == args["cert_path"] and res["certificate"]["status"] == "ok"
    assert {"order", "dns_publish", "propagation_wait", "validation", "dns_cleanup", "finalize", "total"} <= set(res["timings"])
    assert sorted(r["name"] for r in res["dns_records"]) == ["_acme-challenge.example.test", "_acme-challenge.www.example.test"]
    assert res["renewal_log"]["serial"] == res["certificate"]["serial"]
    leaf = assert_installed(lab, tmp_path, names)
    assert res["certificate"]["fingerprint_sha256"] == _x509.fingerprint(leaf)
    # installed like deploy installs: service paths link into the generation store
    assert res["store"] == str(tmp_path / ".ghostguard" / "cert") and res["generation"] == 1
    for name in ("cert", "key", "chain", "fullchain"):
        assert os.readlink(tmp_path / (name + ".pem")) == "..cert.data/%s.pem" % name

    # not due: nothing ordered, files untouched
    orders_before = lab.proxy_count("newOrder")
    mtime = os.stat(tmp_path / "cert.pem").st_mtime_ns
    again = run_module(MODULE, args)
    assert again.rc == 0, again.stdout
    assert again.result["changed"] is False and again.result["reason"] == "not_due"
    assert again.result["ari"]["in_window"] is False  # the proxy's ARI window has not opened
    assert lab.proxy_count("newOrder") == orders_before
    assert os.stat(tmp_path / "cert.pem").st_mtime_ns == mtime

    # ari=false: not a single ACME request
    total_before = lab.proxy_count()
    quiet = run_module(MODULE, {**args, "ari": False})
    assert quiet.result["changed"] is False
    assert lab.proxy_count() == total_before

    # force: a new certificate, new serial and key, and the order says which one it replaces
    forced = run_module(MODULE, {**args, "force": True})
    assert forced.rc == 0, forced.stdout
    assert forced.result["reason"] == "forced"
    assert forced.result["certificate"]["serial"] != res["certificate"]["serial"]
    assert forced.result["previous"]["serial"] == res["certificate"]["serial"]
    new_leaf = assert_installed(lab, tmp_path, names)
    assert new_leaf.public_key().public_numbers() != leaf.public_key().public_numbers()
    assert forced.result["generation"] == 2 and os.readlink(tmp_path / "..cert.data") == ".ghostguard/cert/gen-2"
    last_order = created_orders(lab, names)[-1]
    assert last_order["replaces"] == again.result["ari"]["cert_id"]


def test_alidns_wildcard_apex_and_cname(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    names = ["example.test", "*.example.test", "alias.example.test"]
    run = run_module(MODULE, lab.args(tmp_path, names, provider="alidns"))
    assert run.rc == 0, run.stdout + run.stderr
    records = sorted((r["name"], r["zone"]) for r in run.result["dns_records"])
    # two values on one name for wildcard + apex; the CNAME-delegated name written in the other zone
    assert records == [("_acme-challenge.example.test", "example.test"), ("_acme-challenge.example.test", "example.test"),
                       ("alias.acme.delegated.test", "delegated.test")]
    assert_installed(lab, tmp_path, names)
    stats = lab.alidns_stats()
    assert stats["records"] == []  # nothing left at the provider either
    assert stats["counts"]["DescribeDomains"] >= 2  # the zones are on page 2 of the account's domains


def test_five_sans_and_check_mode(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    names = ["n%d.example.test" % i for i in range(1, 6)]
    args = lab.args(tmp_path, names, via_proxy=True)
    orders = lab.proxy_count("newOrder")
    check = run_module(MODULE, args, check=True)
    assert check.rc == 0, check.stdout
    assert check.result["changed"] is True and check.result["renewed"] is False
    assert check.result["reason"] == "no_certificate"
    assert not (tmp_path / "cert.pem").exists() and not (tmp_path / "account.key").exists()
    assert lab.proxy_count("newOrder") == orders

    run = run_module(MODULE, args)
    assert run.rc == 0, run.stdout
    assert sorted(run.result["certificate"]["sans"]) == sorted("DNS:" + n for n in names)
    assert_installed(lab, tmp_path, names)


def test_csr_and_profile_and_names_change(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP384R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "www.example.test")]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("www.example.test")]), critical=False)
           .sign(key, hashes.SHA256()))
    csr_pem = csr.public_bytes(serialization.Encoding.PEM).decode()
    args = lab.args(tmp_path, [], via_proxy=True, csr_content=csr_pem, profile="shortlived")
    del args["names"], args["key_path"]
    run = run_module(MODULE, args)
    assert run.rc == 0, run.stdout
    assert not (tmp_path / "key.pem").exists()  # the key stays where the CSR was made
    generation = tmp_path / ".ghostguard" / "cert" / "gen-1"
    assert sorted(os.listdir(generation)) == ["cert.pem", "chain.pem", "fullchain.pem"]  # no key in the store
    leaf = _x509.load_certificates((tmp_path / "cert.pem").read_bytes())[0][0]
    assert _x509.public_key_matches(leaf, key)
    assert created_orders(lab, ["www.example.test"])[-1]["profile"] == "shortlived"

    # the same file asked for other names: due because the names changed
    other = lab.args(tmp_path, ["www.example.test", "example.test"], via_proxy=True, ari=False)
    changed = run_module(MODULE, other, check=True)
    assert changed.result["reason"] == "names_changed" and changed.result["changed"] is True


def test_preferred_chain_from_alternates(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    import ssl
    import urllib.request

    from lab import start_pebble, stop_pid_file

    pebble = start_pebble(lab.state_dir, "pebble-alt", int(lab.info["dns"]["port"]),
                          extra_env={"PEBBLE_ALTERNATE_ROOTS": "1"})
    try:
        ctx = ssl.create_default_context(cafile=pebble["ca_bundle"])
        with urllib.request.urlopen("https://127.0.0.1:%d/roots/1" % pebble["management_port"], context=ctx) as resp:
            alt_root = _x509.load_certificates(resp.read())[0][0]
        alt_cn = alt_root.subject.get_attributes_for_oid(_x509.x509.NameOID.COMMON_NAME)[0].value
        args = lab.args(tmp_path, ["www.example.test"], acme_directory=pebble["directory"],
                        acme_ca_bundle=pebble["ca_bundle"], preferred_chain=alt_cn)
        run = run_module(MODULE, args)
        assert run.rc == 0, run.stdout
        assert run.result["chain_issuer"] == alt_cn
        leaf = _x509.load_certificates((tmp_path / "cert.pem").read_bytes())[0][0]
        chain = _x509.load_certificates((tmp_path / "chain.pem").read_bytes())[0]
        assert _x509.verify_chain(leaf, chain, [alt_root]) is None

        # no offered chain matches: the default chain, and a warning a user sees (default callback)
        playbook = tmp_path / "nomatch.yml"
        playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "renew", "ghostguard.certs.acme_dns01": {**args, "preferred_chain": "No Such Root", "force": True},
             "register": "other"},
            {"name": "show", "ansible.builtin.debug": {"msg": "ISSUER={{ other.chain_issuer }}"}}]}]))
        proc = run_playbook(str(playbook))
        assert proc.returncode == 0, proc.stdout
        assert "no chain issued by 'No Such Root' was offered" in proc.stdout + proc.stderr
        assert "ISSUER=" + alt_cn not in proc.stdout
    finally:
        stop_pid_file(lab.state_dir, "pebble-alt", "pebble")


def test_an_idn_is_ordered_and_installed_as_its_a_label(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    """bücher.example.test (and its wildcard) through Pebble and BIND9: the CA sees A-labels only."""
    lab = quiet_lab
    orders = len(lab.proxy_stats().get("orders", []))
    run = run_module(MODULE, lab.args(tmp_path, ["*.Bücher.example.test", "bücher.example.test"], via_proxy=True,
                                      allowed_domains=["*.bücher.example.test", "bücher.example.test"]))
    assert run.rc == 0, run.stdout + run.stderr
    a_labels = ["*.xn--bcher-kva.example.test", "xn--bcher-kva.example.test"]
    assert run.result["names"] == a_labels
    sent = lab.proxy_stats()["orders"][orders:]   # badNonce retries included: not one of them names a U-label
    assert sent and all(sorted(o.get("identifiers", [])) == sorted(a_labels) for o in sent), sent
    assert len(created_orders(lab, a_labels, orders)) == 1
    assert sorted(r["name"] for r in run.result["dns_records"]) == ["_acme-challenge.xn--bcher-kva.example.test"] * 2
    assert sorted(run.result["certificate"]["sans"]) == ["DNS:" + n for n in a_labels]
    assert_installed(lab, tmp_path, a_labels)
    assert lab.txt("_acme-challenge.xn--bcher-kva.example.test") == set()   # removed again


def test_names_a_ca_refuses_fail_before_any_request(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    before = lab.proxy_count()
    run = run_module(MODULE, lab.args(tmp_path, ["ok.example.test", "foo_bar.example.test", "a.*.example.test",
                                                 "192.0.2.1", "com.cn"], via_proxy=True))
    assert run.rc != 0 and run.result["failed"], run.stdout
    msg = run.result["msg"]
    for reason in ("'foo_bar.example.test' is not a DNS name a CA issues for: the label 'foo_bar' has an underscore",
                   "'a.*.example.test' is not a DNS name a CA issues for: a wildcard is allowed only as the whole first label",
                   "'192.0.2.1' is an IP address: certificates here are for DNS names; use a DNS name that resolves to it",
                   "'com.cn' is not a DNS name a CA issues for: com.cn is a public suffix (Public Suffix List)",
                   "No ACME or DNS request was made"):
        assert reason in msg, msg
    assert run.result["refused"] == ["foo_bar.example.test", "a.*.example.test", "192.0.2.1", "com.cn"]
    assert lab.proxy_count() == before
    assert list(tmp_path.iterdir()) == []
