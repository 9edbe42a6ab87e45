# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""expiry_info checks revocation through real Ansible: a CA of our own, its CRL served on loopback."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import stat
import time

from ansible_run import run_module
from crl_lab import CrlLab
from services import free_port


def test_revoked_good_bad_signature_unreachable_and_cache(tmp_path: pathlib.Path) -> None:
    certs = tmp_path / "certs"
    cache = tmp_path / "crl-cache"
    with CrlLab() as lab:
        good, bad = lab.issue("good.test"), lab.issue("bad.test")
        lost = lab.issue("lost.test", crl_url="http://127.0.0.1:%d/gone.crl" % free_port())
        forged = lab.issue("forged.test", crl_url=lab.url("/forged.crl"))
        lab.revoke(bad)
        lab.revoke(forged)
        lab.publish(next_update=dt.timedelta(hours=6))
        lab.publish("/forged.crl", bad_signature=True)
        for name, issued in (("good", good), ("bad", bad), ("lost", lost), ("forged", forged)):
            issued.write(str(certs), name)
        args = {"paths": [str(certs)], "revocation_cache_dir": str(cache), "revocation_timeout": "2s"}
        started = time.monotonic()
        run = run_module("ghostguard.certs.expiry_info", args)
        assert run.rc == 0, run.stdout + run.stderr
        res = run.result
        by = {os.path.basename(c["path"]): c for c in res["certificates"]}
        assert by["bad.pem"]["status"] == "revoked" and by["bad.pem"]["due"] is True
        assert by["bad.pem"]["revocation"]["method"] == "crl" and by["bad.pem"]["revocation"]["revocation_time"]
        assert res["due"] == [str(certs / "bad.pem")]
        assert res["summary"]["counts"]["revoked"] == 1 and res["summary"]["worst"] == "revoked"
        assert by["good.pem"]["status"] == "ok" and by["good.pem"]["revocation"]["status"] == "good"
        assert by["good.pem"]["revocation"]["next_update"] and "revocation_error" not in by["good.pem"]
        # a CRL that cannot be had or trusted is an error field, never a revocation, and never fails the scan
        assert by["lost.pem"]["status"] == "ok" and "could not be fetched" in by["lost.pem"]["revocation_error"]
        assert by["forged.pem"]["status"] == "ok" and "signature does not verify" in by["forged.pem"]["revocation_error"]
        assert res["errors"] == []
        assert time.monotonic() - started < 30
        # cached until nextUpdate, 0644 (public): the second run downloads nothing
        files = sorted(os.listdir(cache))
        assert len(files) == 1 and stat.S_IMODE((cache / files[0]).stat().st_mode) == 0o644
        assert lab.hits["/ca.crl"] == 1
        again = run_module("ghostguard.certs.expiry_info", args)
        assert again.rc == 0 and lab.hits["/ca.crl"] == 1
        assert {os.path.basename(c["path"]): c["status"] for c in again.result["certificates"]}["bad.pem"] == "revoked"
        assert next(c for c in again.result["certificates"] if c["path"].endswith("good.pem"))["revocation"]["cached"]
        # revocation_check: false asks nobody
        hits = dict(lab.hits)
        off = run_module("ghostguard.certs.expiry_info", {"paths": [str(certs)], "revocation_check": False})
        assert off.rc == 0 and lab.hits == hits
        assert [c["status"] for c in off.result["certificates"]] == ["ok"] * 4
        assert all("revocation" not in c for c in off.result["certificates"])


def test_bad_revocation_timeout_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    run = run_module("ghostguard.certs.expiry_info", {"paths": [str(tmp_path)], "revocation_timeout": "1h"})
    assert run.rc != 0 and "revocation_timeout" in run.result["msg"] and "from 1s to 2m" in run.result["msg"]
