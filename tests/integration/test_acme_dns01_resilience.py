# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""acme_dns01 against a misbehaving CA and DNS API: badNonce, 5xx, 429, dropped connections, throttling, ARI."""

from __future__ import annotations

import json
import pathlib
import time

from ansible_run import run_module, run_playbook
from conftest import LabHandle

MODULE = "ghostguard.certs.acme_dns01"


def test_bad_nonce_half_the_time_ten_of_ten(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    pebble = lab.extra_pebble("pebble-nonce50", nonce_reject=50)
    try:
        args = lab.args(tmp_path / "cert{{ item }}", ["www.example.test", "example.test"],
                        acme_directory=pebble["directory"], acme_ca_bundle=pebble["ca_bundle"],
                        account_key_path=str(tmp_path / "account.key"))
        for index in range(10):
            (tmp_path / ("cert%d" % index)).mkdir()
        playbook = tmp_path / "ten.yml"
        playbook.write_text(json.dumps([{
            "name": "ten issuances", "hosts": "localhost", "gather_facts": False,
            "tasks": [{"name": "issue", "ghostguard.certs.acme_dns01": args, "loop": list(range(10)),
                       "register": "issued"},
                      {"name": "count", "ansible.builtin.debug": {
                          "msg": "RENEWED={{ issued.results | selectattr('renewed') | list | length }}"}}],
        }]))
        proc = run_playbook(str(playbook))
    finally:
        lab.stop_pebble("pebble-nonce50")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "RENEWED=10" in proc.stdout
    for index in range(10):
        assert (tmp_path / ("cert%d" % index) / "fullchain.pem").exists()
    assert lab.challenge_txt_everywhere() == {}


def test_proxy_5xx_429_and_drop_within_deadline(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    before = dict(lab.proxy_stats().get("faults_applied", {}))  # the counters are the lab's, shared with earlier tests
    lab.proxy_control(faults=[
        {"id": "order-503", "match": "/order-plz", "status": 503, "times": 2, "retry_after": 1},
        {"id": "finalize-429", "match": "/finalize-order", "status": 429, "times": 1, "retry_after": 1},
        {"id": "authz-drop", "match": "/authZ/", "status": "drop", "times": 1},
        {"id": "nonce-500", "match": "/nonce-plz", "status": 500, "times": 1},
    ])
    started = time.monotonic()
    run = run_module(MODULE, lab.args(tmp_path, ["www.example.test"], via_proxy=True, timeout=30))
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.stdout
    after = lab.proxy_stats()["faults_applied"]
    applied = {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}
    assert applied == {"order-503": 2, "finalize-429": 1, "authz-drop": 1, "nonce-500": 1}
    assert 3.0 <= elapsed < 30  # Retry-After honoured (1 s x 3), well within the deadline
    assert run.result["certificate"]["status"] == "ok"


def test_retry_after_beyond_deadline_fails_fast(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    lab.proxy_control(faults=[{"id": "order-429-long", "match": "/order-plz", "status": 429, "times": 50,
                               "retry_after": 3600}])
    started = time.monotonic()
    run = run_module(MODULE, lab.args(tmp_path, ["www.example.test"], via_proxy=True, timeout=20))
    assert run.rc != 0
    assert "rateLimited" in run.result["msg"] and "newOrder" in run.result["msg"]
    assert time.monotonic() - started < 15  # capped, and no pointless sleeping past the deadline
    assert not (tmp_path / "cert.pem").exists()


def test_alidns_throttled_thirty_percent_and_5xx(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    lab.alidns_control(throttle_rate=0.3, error_rate=0.15)
    counts = lab.alidns_stats().get("counts", {})
    before, before_5xx = counts.get("Throttling.User", 0), counts.get("ServiceUnavailable", 0)
    run = run_module(MODULE, lab.args(tmp_path, ["example.test", "*.example.test", "www.example.test"], provider="alidns"))
    assert run.rc == 0, run.stdout
    assert lab.alidns_stats()["counts"]["Throttling.User"] - before >= 2
    assert lab.alidns_stats()["counts"]["ServiceUnavailable"] - before_5xx >= 1
    assert lab.alidns_stats()["records"] == []
    assert lab.challenge_txt_everywhere() == {}


def test_ari_window_open_renews_with_replaces(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    args = lab.args(tmp_path, ["www.example.test"], via_proxy=True)
    first = run_module(MODULE, args)
    assert first.rc == 0, first.stdout
    # the local policy says due (renew_before covers the whole life), but the CA's window has not opened: wait
    orders = lab.proxy_count("newOrder")
    early = run_module(MODULE, {**args, "renew_before": "90d"})
    assert early.rc == 0, early.stdout
    assert early.result["changed"] is False and early.result["reason"] == "ari_window_not_started"
    assert lab.proxy_count("newOrder") == orders
    lab.proxy_control(ari_due=True)  # the CA asks for early renewal (say, a mass revocation)
    second = run_module(MODULE, args)
    assert second.rc == 0, second.stdout
    assert second.result["renewed"] is True and second.result["reason"] == "ari_window"
    assert second.result["ari"]["in_window"] is True
    assert lab.proxy_stats()["orders"][-1]["replaces"] == second.result["ari"]["cert_id"]
    assert second.result["certificate"]["serial"] != first.result["certificate"]["serial"]
