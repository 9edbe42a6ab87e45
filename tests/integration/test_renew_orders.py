# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ghostguard.certs.renew_orders through ansible: three orders at once against the lab, the ledger equal
to what the CA accepted, ARI windows, a held lock, and no secret in the output."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
import typing as t

from ansible_run import run_module
from lab_fixture import LabHandle

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._acme.ari import cert_id
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger

MODULE = "ghostguard.certs.renew_orders"


def _orders(lab: LabHandle, store: pathlib.Path, numbers: t.Sequence[int]) -> list[dict[str, t.Any]]:
    orders = []
    for i in numbers:
        folder = store / "sets" / ("n%d" % i)
        args = lab.args(folder, ["n%d.example.test" % i], via_proxy=True, account_key_path=str(store / "account.key"))
        args.update(id="n%d" % i, store=str(folder), key_path=str(folder / "privkey.pem"))
        orders.append(args)
    return orders


def test_three_orders_at_concurrency_three_then_their_ari_windows(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    store = tmp_path / "store"
    before = len(lab.proxy_stats().get("orders", []))
    run = run_module(MODULE, {"state": "issued", "store": str(store), "concurrency": 3,
                              "orders": _orders(lab, store, (1, 2, 3))}, verbosity=3)
    assert run.rc == 0, run.stdout + run.stderr
    issued = run.result["issued"]
    assert sorted(issued) == ["n1", "n2", "n3"] and run.result["changed"]
    assert all(o["ok"] and o["ordered"] and o["order_url"] for o in issued.values()), issued
    assert run.result["lock"]["acquired"] and run.result["lock"]["broke_stale"] is None
    accepted = [o for o in lab.proxy_stats()["orders"][before:] if o.get("status") == 201]
    ledger = _ledger.load_ledger(str(store / "ledger.json"))
    assert sorted(e["domains"] for e in ledger) == sorted([o["identifiers"] for o in accepted])
    assert sorted(e["order_url"] for e in ledger) == sorted(o["order_url"] for o in issued.values())
    assert lab.info["tsig"]["secret"] not in run.stdout + run.stderr  # -vvv: the TSIG secret stays out
    assert not (store / "issue.lock").exists()

    ids = [cert_id(_x509.load_certificates((store / "sets" / oid / "cert.pem").read_bytes(), "c")[0][0]) for oid in issued]
    lab.proxy_control(ari_due=True)
    observed = run_module(MODULE, {"state": "observed", "store": str(store), "ari": [
        {"directory": lab.info["proxy"]["directory"], "ca_bundle": lab.info["ca_bundle"], "cert_ids": ids},
        {"directory": lab.info["directory"], "ca_bundle": lab.info["ca_bundle"], "cert_ids": ["AAAA.BBBB"]}]})
    assert observed.rc == 0, observed.stdout
    windows = observed.result["windows"]
    assert all(windows[i]["due"] and windows[i]["error"] is None for i in ids)
    assert "offers no ARI" in windows["AAAA.BBBB"]["error"]
    assert any("offers no ARI" in w for w in observed.result["ari_warnings"])
    assert (store / "ari-cache.json").exists()


def test_a_held_lock_fails_the_task_naming_its_holder(tmp_path: pathlib.Path) -> None:
    store = tmp_path / "store"
    os.makedirs(store)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (store / "issue.lock").write_text(json.dumps(_ledger.lock_record("slice-2", holder.pid)))
        run = run_module(MODULE, {"state": "issued", "store": str(store), "lock_wait": 1, "orders": []})
    finally:
        holder.kill()
        holder.wait()
    assert run.rc != 0 and run.result["failed"]
    assert "held by slice-2" in run.result["msg"] and "pid %d" % holder.pid in run.result["msg"]
    assert "Wait for it" in run.result["msg"] and run.result["holder"]["pid"] == holder.pid


# --------------------------------------------------------------------------- the CA down: one breaker per run


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ca_unreachable_fails_every_order_in_about_the_time_of_one(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    """Nothing listens at the ACME directory: the first order's retries find the CA unreachable, the others
    (one at a time here) fail at once with the same reason - no retry cycle each."""
    lab = quiet_lab
    store = tmp_path / "store"
    directory = "https://127.0.0.1:%d/dir" % _closed_port()
    orders = [dict(o, acme_directory=directory, timeout=10) for o in _orders(lab, store, (1, 2, 3))]
    started = time.monotonic()
    run = run_module(MODULE, {"state": "issued", "store": str(store), "concurrency": 1, "orders": orders})
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.stdout
    issued = run.result["issued"]
    # one retry cycle (timeout 10 s), not three in a row (which take 30 s at least, whatever the machine's load)
    assert elapsed < 27, elapsed
    reason = run.result["ca_unreachable"][directory]
    assert "Connection refused" in reason or "connection to" in reason, reason
    for oid, out in issued.items():
        assert not out["ok"] and not out["ordered"] and not out["accepted"], (oid, out)
        assert out["msg"].startswith("the CA at %s is unreachable: " % directory) and reason in out["msg"], out["msg"]
        assert "other orders fail at once" in out["msg"]
        assert not (store / "sets" / oid / "cert.pem").exists()
    assert _ledger.load_ledger(str(store / "ledger.json")) == []    # nothing was accepted
    assert lab.challenge_txt_everywhere() == {}
    assert not (store / "issue.lock").exists()


def test_ca_down_after_accepting_an_order_it_counts_in_the_ledger_and_the_rest_fail_fast(
        quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    """The CA accepts the first order, then answers 503 to its finalize until the order's deadline: that order
    is in the ledger (the CA counts it in its rate limits), its TXT records are removed, nothing is installed;
    the run's next orders are never sent (the CA was found unreachable)."""
    lab = quiet_lab
    store = tmp_path / "store"
    lab.proxy_control(faults=[{"id": "finalize-down", "match": "/finalize-order", "status": 503, "times": 1000,
                               "retry_after": 1}])
    before = len(lab.proxy_stats().get("orders", []))
    started = time.monotonic()
    try:
        run = run_module(MODULE, {"state": "issued", "store": str(store), "concurrency": 1,
                                  "orders": [dict(o, timeout=15) for o in _orders(lab, store, (1, 2, 3))]})
    finally:
        lab.proxy_control()
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.stdout
    issued = run.result["issued"]
    accepted = [oid for oid, out in issued.items() if out["accepted"]]
    assert len(accepted) == 1 and elapsed < 30, (issued, elapsed)
    first = issued[accepted[0]]
    assert not first["ok"] and first["order_url"] and "HTTP 503" in first["msg"] and "unreachable" in first["msg"], first
    for oid, out in issued.items():
        assert not out["ok"] and "the CA at %s is unreachable" % lab.info["proxy"]["directory"] in out["msg"], out
        assert not (store / "sets" / oid / "cert.pem").exists()
    ca = [o for o in lab.proxy_stats()["orders"][before:] if o.get("status") == 201]
    ledger = _ledger.load_ledger(str(store / "ledger.json"))
    assert [e["order_url"] for e in ledger] == [first["order_url"]] and len(ca) == 1
    assert [e["domains"] for e in ledger] == [ca[0]["identifiers"]]
    assert lab.challenge_txt_everywhere() == {}
