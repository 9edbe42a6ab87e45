# SPDX-License-Identifier: GPL-3.0-or-later
"""ARI for the fleet (plugins/module_utils/_fleet/ari_windows.py): windows over plain HTTPS from the lab's
ACME proxy, the cache and its Retry-After, and every failure giving due=False with an error."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import stat
import time
import typing as t

import pytest
from lab_fixture import LabHandle

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._acme.ari import cert_id
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ari_windows as _ari_windows
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import issuing as _issuing


@pytest.fixture(scope="module")
def issued(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Ids of two certificates the lab's ACME proxy has seen downloaded (so it answers ARI for them)."""
    lab.proxy_control()
    store = tmp_path_factory.mktemp("ari-store")
    orders = []
    for i in (1, 2):
        folder = store / ("n%d" % i)
        orders.append(dict(lab.args(folder, ["n%d.example.test" % i], via_proxy=True,
                                    account_key_path=str(store / "account.key")), id="n%d" % i, force=True))
    run = _issuing.issue_orders(orders, str(store), "ari-fixture", concurrency=2)
    assert all(o["ok"] for o in run.issued.values()), run.issued
    ids = []
    for i in (1, 2):
        leaf = _x509.load_certificates((store / ("n%d" % i) / "cert.pem").read_bytes(), "cert")[0][0]
        ids.append(cert_id(leaf))
    return ids


def directory(lab: LabHandle) -> str:
    return str(lab.info["proxy"]["directory"])


def test_windows_of_known_certificates_then_from_the_cache(quiet_lab: LabHandle, issued: list[str], tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    cache = str(tmp_path / "ari-cache.json")
    asked = lab.proxy_count("renewalInfo")
    got = _ari_windows.windows(issued, directory(lab), lab.info["ca_bundle"], cache)
    assert lab.proxy_count("renewalInfo") == asked + 2
    for ident in issued:
        window = got[ident]
        assert window["error"] is None and window["due"] is False and not window["cached"]
        assert window["start"].endswith("Z") and window["start"] < window["end"]
        assert abs(window["retry_after"] - (time.time() + 21600)) < 60  # the proxy's Retry-After: 6 h
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    again = _ari_windows.windows(issued, directory(lab), lab.info["ca_bundle"], cache)
    assert lab.proxy_count("renewalInfo") == asked + 2  # the cache answered
    assert all(again[i]["cached"] and again[i]["start"] == got[i]["start"] for i in issued)
    later = _ari_windows.windows(issued, directory(lab), lab.info["ca_bundle"], cache, now=got[issued[0]]["start"])
    assert later[issued[0]]["due"]  # due is computed at "now", also from the cache


def test_an_open_window_is_due_and_an_expired_cache_entry_is_asked_again(quiet_lab: LabHandle, issued: list[str], tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    cache = tmp_path / "ari-cache.json"
    _ari_windows.windows(issued[:1], directory(lab), lab.info["ca_bundle"], str(cache))
    lab.proxy_control(ari_due=True)
    assert not _ari_windows.windows(issued[:1], directory(lab), lab.info["ca_bundle"], str(cache))[issued[0]]["due"]
    entries = json.loads(cache.read_text())
    for entry in entries.values():
        entry["retry_after"] = time.time() - 1  # Retry-After has passed
    cache.write_text(json.dumps(entries))
    got = _ari_windows.windows(issued[:1], directory(lab), lab.info["ca_bundle"], str(cache))[issued[0]]
    assert got["due"] and not got["cached"]


def test_retry_after_defaults_to_six_hours_and_is_capped_at_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {"none": None, "huge": str(10 * 86400), "short": "60"}
    body = {"suggestedWindow": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}}
    monkeypatch.setattr(_ari_windows, "_get", lambda url, context, timeout: (body, answers[url.rsplit("/", 1)[1]]))
    got = {k: _ari_windows._fetch("https://ca/ri", k, t.cast(t.Any, None), 1, 1000.0)["retry_after"] for k in answers}
    assert got == {"none": 1000 + 6 * 3600, "huge": 1000 + 86400, "short": 1060}


def test_an_unknown_certificate_is_an_error_not_due(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    got = _ari_windows.windows(["AAAA.BBBB"], directory(quiet_lab), quiet_lab.info["ca_bundle"], str(tmp_path / "c.json"))
    assert got["AAAA.BBBB"]["due"] is False and "HTTP 404" in got["AAAA.BBBB"]["error"]
    assert not os.path.exists(tmp_path / "c.json")  # errors are not cached


def test_a_ca_without_ari_and_a_failing_ca_give_errors(quiet_lab: LabHandle, issued: list[str]) -> None:
    lab = quiet_lab
    plain = _ari_windows.windows(issued, lab.info["directory"], lab.info["ca_bundle"])  # Pebble itself: no ARI
    assert all(not w["due"] and "offers no ARI" in w["error"] for w in plain.values())
    lab.proxy_control(faults=[{"id": "ri", "match": "renewal-info", "status": 503, "times": 10}])
    failing = _ari_windows.windows(issued, directory(lab), lab.info["ca_bundle"])
    assert all(not w["due"] and "HTTP 503" in w["error"] for w in failing.values())
    lab.proxy_control(faults=[{"id": "dir", "match": "dir", "status": 500, "times": 10}])
    down = _ari_windows.windows(issued, directory(lab), lab.info["ca_bundle"])
    assert all("HTTP 500" in w["error"] for w in down.values())
    untrusted = _ari_windows.windows(issued[:1], directory(lab), lab.info["issuer_roots"])
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted[issued[0]]["error"]


def test_timeouts_and_bad_answers_are_errors(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts, never answers
    try:
        started = time.monotonic()
        got = _ari_windows.windows(["AAAA.BBBB"], "https://127.0.0.1:%d/dir" % silent.getsockname()[1], timeout=0.5)
        assert time.monotonic() - started < 5 and "timed out" in got["AAAA.BBBB"]["error"]
    finally:
        silent.close()
    monkeypatch.setattr(_ari_windows, "renewal_info_url", lambda *a: "https://ca/ri")
    monkeypatch.setattr(_ari_windows, "_get", lambda *a: ({"suggestedWindow": {"start": "soon"}}, None))
    bad = _ari_windows.windows(["AAAA.BBBB"], "https://ca/dir")
    assert "no usable suggestedWindow" in bad["AAAA.BBBB"]["error"]
    assert "not an ARI certificate id" in _ari_windows.windows(["../x"], "https://ca/dir")["../x"]["error"]
    (tmp_path / "c.json").write_text("{broken")
    assert _ari_windows.load_cache(str(tmp_path / "c.json")) == {}
