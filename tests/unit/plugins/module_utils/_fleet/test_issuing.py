# SPDX-License-Identifier: GPL-3.0-or-later
"""The renew playbook's orders on the controller (plugins/module_utils/_fleet/issuing.py), against the lab:
concurrency, reuse, the write-ahead ledger (also when the process is killed), failures per order."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import typing as t

import pytest
from lab_fixture import LabHandle

from ansible_collections.ghostguard.certs.plugins.module_utils._errors import FileSystemError, InputError
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import issuing as _issuing
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet.schedule import schedule

ROOT = pathlib.Path(__file__).resolve().parents[5]


def order(lab: LabHandle, store: pathlib.Path, oid: str, names: list[str], **extra: t.Any) -> dict[str, t.Any]:
    folder = store / "sets" / oid
    args = lab.args(folder, names, via_proxy=True, account_key_path=str(store / "account.key"))
    args.update(id=oid, store=str(folder), key_path=str(folder / "privkey.pem"))
    args.update(extra)
    return args


def accepted_by_ca(lab: LabHandle, before: int) -> list[dict[str, t.Any]]:
    """The newOrders the CA created (HTTP 201) since the stats had *before* orders."""
    return [o for o in lab.proxy_stats().get("orders", [])[before:] if o.get("status") == 201]


def test_three_orders_at_once_each_in_the_ledger_once(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    store = tmp_path / "store"
    orders = [order(lab, store, "n%d" % i, ["n%d.example.test" % i]) for i in (1, 2, 3)]
    before = len(lab.proxy_stats().get("orders", []))
    started = time.monotonic()
    run = _issuing.issue_orders(orders, str(store), "run-1", concurrency=3)
    elapsed = time.monotonic() - started
    assert all(o["ok"] and o["ordered"] and o["accepted"] and not o["reused"] for o in run.issued.values()), run.issued
    assert run.lock == {"acquired": True, "waited": 0.0, "broke_stale": None} or run.lock["acquired"]
    assert not os.path.exists(store / "issue.lock")
    seen = accepted_by_ca(lab, before)
    ledger = _ledger.load_ledger(str(store / "ledger.json"))
    assert sorted(e["domains"][0] for e in ledger) == sorted(o["identifiers"][0] for o in seen) == [
        "n1.example.test", "n2.example.test", "n3.example.test"]
    assert sorted(e["order_url"] for e in ledger) == sorted(o["order_url"] for o in run.issued.values())
    assert all((store / "sets" / oid / "fullchain.pem").exists() for oid in ("n1", "n2", "n3"))
    # the end-of-run record of the same orders (renew_store state=recorded) does not count them again
    _ledger.record_orders(str(store / "ledger.json"),
                          [{"time": _ledger.epoch_iso(time.time()), "domains": o["domains"], "replaces": o["replaces"],
                            "order_url": o["order_url"]} for o in run.issued.values()])
    assert len(_ledger.load_ledger(str(store / "ledger.json"))) == 3
    print("3 orders at concurrency 3: %.1f s" % elapsed)

    # again: every certificate is fresh in its store, reused without an order
    before = len(lab.proxy_stats().get("orders", []))
    again = _issuing.issue_orders(orders, str(store), "run-2", concurrency=3)
    assert all(o["ok"] and o["reused"] and not o["ordered"] and not o["accepted"] for o in again.issued.values())
    assert accepted_by_ca(lab, before) == []
    assert again.issued["n1"]["fingerprint"] == run.issued["n1"]["fingerprint"]


def test_ari_replaces_is_sent_and_recorded_exempt(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    store = tmp_path / "store"
    first = _issuing.issue_orders([order(lab, store, "n4", ["n4.example.test"])], str(store), "run-1")
    assert first.issued["n4"]["ok"] and not first.issued["n4"]["replaces"]
    from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
    from ansible_collections.ghostguard.certs.plugins.module_utils._acme.ari import cert_id

    leaf = _x509.load_certificates((store / "sets" / "n4" / "cert.pem").read_bytes(), "cert")[0][0]
    ident = cert_id(leaf)
    before = len(lab.proxy_stats().get("orders", []))
    lab.proxy_control(ari_due=True)
    again = _issuing.issue_orders([order(lab, store, "n4", ["n4.example.test"], replaces=ident)], str(store), "run-2")
    assert again.issued["n4"]["ordered"] and again.issued["n4"]["replaces"]
    assert [o["replaces"] for o in accepted_by_ca(lab, before)] == [ident]
    ledger = _ledger.load_ledger(str(store / "ledger.json"))
    assert [e["replaces"] for e in ledger] == [False, True]
    verdict = schedule([{"id": "n4", "domains": ["n4.example.test"], "deadline": None}], ledger)
    assert verdict["exempt_orders_week"] == 1


def test_a_failed_order_fails_only_itself(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    store = tmp_path / "store"
    good = order(lab, store, "n5", ["n5.example.test"])
    refused = order(lab, store, "evil", ["www.evil.test"], allowed_domains=["*.example.test"])
    run = _issuing.issue_orders([refused, good], str(store), "run-1", concurrency=2)
    assert run.issued["n5"]["ok"] and run.issued["n5"]["ordered"]
    bad = run.issued["evil"]
    assert not bad["ok"] and not bad["accepted"] and "allowed_domains" in bad["msg"] and bad["order_url"] is None
    assert [e["domains"] for e in _ledger.load_ledger(str(store / "ledger.json"))] == [["n5.example.test"]]


def test_an_order_that_fails_after_the_ca_accepted_it_is_in_the_ledger(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    store = tmp_path / "store"
    broken = order(lab, store, "n1", ["n1.example.test"], timeout=20)
    broken["rfc2136"] = dict(broken["rfc2136"], key_secret="d3JvbmcgdHNpZyBzZWNyZXQgZm9yIHRoZSBsYWI=")  # refused by BIND
    run = _issuing.issue_orders([broken], str(store), "run-1")
    out = run.issued["n1"]
    assert not out["ok"] and out["accepted"] and out["order_url"] and out["msg"], out
    assert "d3JvbmcgdHNpZyBzZWNyZXQ" not in json.dumps(run.issued)
    assert [e["order_url"] for e in _ledger.load_ledger(str(store / "ledger.json"))] == [out["order_url"]]


def test_the_lock_of_a_live_run_fails_the_run_naming_its_holder(tmp_path: pathlib.Path) -> None:
    store = tmp_path / "store"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        os.makedirs(store)
        with open(store / "issue.lock", "w") as handle:
            json.dump(dict(_ledger.lock_record("other-run", holder.pid)), handle)
        with pytest.raises(FileSystemError, match=r"held by other-run \(host .*, pid %d" % holder.pid):
            _issuing.issue_orders([], str(store), "run-1", lock_wait=0)
    finally:
        holder.kill()
        holder.wait()
    run = _issuing.issue_orders([], str(store), "run-1", lock_wait=5)
    assert run.lock["broke_stale"]["owner"] == "other-run" and run.issued == {}


def test_order_ids_must_be_unique(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InputError, match="an id of its own"):
        _issuing.issue_orders([{"id": "a"}, {"id": "a"}], str(tmp_path), "run-1")
    assert not os.path.exists(tmp_path / "issue.lock")


KILL_SCRIPT = """
import json, sys
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import issuing as _issuing
orders = json.loads(sys.argv[1])
_issuing.issue_orders(orders, sys.argv[2], "doomed-run", concurrency=len(orders))
"""


def test_a_run_killed_after_the_ca_accepted_orders_leaves_them_in_the_ledger(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    """SIGKILL the issuing process as soon as it heard the CA accept its orders (the ledger has them; DNS,
    validation and finalize have not run): the ledger holds every order the CA accepted, and the next run
    takes the dead run's lock over at once. (An order the CA created whose 201 never reached the process
    cannot be known to it; that gap is one HTTP response long.)"""
    lab = quiet_lab
    store = tmp_path / "store"
    # names of its own: the killed run may leave its TXT records behind (no process is left to remove them), and
    # the DNS-01 tests sharing this lab check that the names they use are clean
    orders = [order(lab, store, "k%d" % i, ["killed%d.example.test" % i], propagation_timeout=20) for i in (1, 2)]
    before = len(lab.proxy_stats().get("orders", []))
    downloads = lab.proxy_count("certificate")
    ledger_path = str(store / "ledger.json")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / ".build" / "collections"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, json.dumps(orders), str(store)], env=env)
    try:
        deadline = time.monotonic() + 60
        while len(_ledger.load_ledger(ledger_path)) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    time.sleep(1.0)  # any request in flight through the proxy lands now
    seen = accepted_by_ca(lab, before)
    ledger = _ledger.load_ledger(ledger_path)
    assert sorted(e["domains"][0] for e in ledger) == sorted(o["identifiers"][0] for o in seen) == [
        "killed1.example.test", "killed2.example.test"]
    assert all(e["order_url"] for e in ledger)
    assert lab.proxy_count("certificate") == downloads  # killed mid-order: nothing was issued
    lock = json.loads((store / "issue.lock").read_text())
    assert lock["owner"] == "doomed-run" and lock["pid"] == proc.pid
    # the next run: the dead run's lock is taken over at once; the accepted orders are not recorded again
    run = _issuing.issue_orders(orders, str(store), "next-run", lock_wait=0, concurrency=2)
    assert run.lock["broke_stale"]["pid"] == proc.pid
    assert all(o["ok"] for o in run.issued.values())
    urls = [e["order_url"] for e in _ledger.load_ledger(str(store / "ledger.json"))]
    assert len(urls) == len(set(urls)) == len(seen) + sum(o["accepted"] for o in run.issued.values())


def test_an_order_planned_exempt_but_sent_without_replaces_is_warned_about(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    store = tmp_path / "store"
    plain = order(lab, store, "n2", ["n2.example.test"], acme_directory=lab.info["directory"], ari_exempt=True,
                  replaces="AAAA.BBBB")  # Pebble itself offers no ARI: replaces is not sent
    run = _issuing.issue_orders([plain], str(store), "run-1")
    assert run.issued["n2"]["ok"] and not run.issued["n2"]["replaces"]
    assert any("order n2: planned as an ARI renewal" in w for w in run.warnings)
    assert [e["replaces"] for e in _ledger.load_ledger(str(store / "ledger.json"))] == [False]


# --------------------------------------------------------------------------- two runs at once, the CA down


def test_a_forced_order_reuses_what_another_run_ordered_since_this_one_planned(
        quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    store = tmp_path / "store"
    planned = time.time() - 1          # this run planned, then the other run ordered the name set
    first = _issuing.issue_orders([order(lab, store, "n4", ["n4.example.test"])], str(store), "other-run")
    assert first.issued["n4"]["ordered"]
    before = len(lab.proxy_stats().get("orders", []))
    forced = order(lab, store, "n4", ["n4.example.test"], force=True)
    run = _issuing.issue_orders([forced], str(store), "this-run", since=planned)
    out = run.issued["n4"]
    assert out["ok"] and out["reused"] and not out["ordered"] and "ordered meanwhile by another run" in out["reason"]
    assert out["fingerprint"] == first.issued["n4"]["fingerprint"] and accepted_by_ca(lab, before) == []
    # planned after that certificate was installed: the force is the operator's, and it orders
    again = _issuing.issue_orders([forced], str(store), "later-run", since=time.time() + 1)
    assert again.issued["n4"]["ordered"] and len(accepted_by_ca(lab, before)) == 1


def test_a_ca_found_unreachable_fails_the_other_orders_at_once(tmp_path: pathlib.Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = "https://127.0.0.1:%d/dir" % sock.getsockname()[1]
    orders = [{"id": "u%d" % i, "names": ["u%d.example.test" % i], "cert_path": str(tmp_path / ("u%d" % i) / "cert.pem"),
               "key_path": str(tmp_path / ("u%d" % i) / "privkey.pem"), "acme_directory": url, "timeout": 3,
               "account_key_path": str(tmp_path / "account.key"), "dns_provider": "rfc2136",
               "rfc2136": {"server": "127.0.0.1:1"}} for i in (1, 2, 3)]
    started = time.monotonic()
    run = _issuing.issue_orders(orders, str(tmp_path), "run-1", concurrency=1)
    assert time.monotonic() - started < 5          # one retry cycle (3 s), not three in a row
    assert list(run.unreachable) == [url] and "Connection refused" in run.unreachable[url]
    assert {o["msg"] for o in run.issued.values()} == {"the CA at %s is unreachable: %s. This run sends it nothing more "
                                                       "(its other orders fail at once with this reason); run again once "
                                                       "the CA answers" % (url, run.unreachable[url])}
    assert not any(o["accepted"] or o["ok"] for o in run.issued.values())
