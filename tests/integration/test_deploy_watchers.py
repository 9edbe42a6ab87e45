# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Services that reload themselves: a real Go gRPC service watching its files with fsnotify.

No signal is ever sent.  The directory watcher (Create/Rename/Write/Remove of entries in the
directory of tls.crt and tls.key) must see a default, atomic deploy and a rollback; the file
watcher (Write on tls.crt and tls.key) must see a deploy and a rollback with ``in_place: true``.
Both validate the pair before swapping: their logs must never show a mismatched pair loaded, and
``endpoint_info`` proves with a live handshake what is served.
"""

from __future__ import annotations

import os
import pathlib
import ssl
import typing as t

import pytest
from ansible_run import run_module
from cryptography import x509
from deploy_lab import DeployLab, fp
from go_reloader import GoReloader


def _lab(root: pathlib.Path) -> DeployLab:
    lab = DeployLab(str(root))
    lab.cert_path = os.path.join(lab.tls, "tls.crt")
    lab.key_path = os.path.join(lab.tls, "tls.key")
    return lab


def _args(lab: DeployLab, issued: t.Any, **extra: t.Any) -> dict[str, t.Any]:
    args = lab.module_args(issued, **extra)
    for role in ("chain_path", "fullchain_path", "combined_path"):
        args.pop(role)
    return args


def _prove(lab: DeployLab, svc: GoReloader, fingerprint: str) -> dict[str, t.Any]:
    res = run_module("ghostguard.certs.endpoint_info", {
        "host": "127.0.0.1", "port": svc.port, "server_name": lab.name, "ca_bundle": lab.root_file,
        "alpn": ["h2"], "expected_fingerprint": fingerprint, "retries": 30, "retry_delay": 0.1, "timeout": 5,
    }).result
    assert res["matches_expected"] is True, res
    return res


def _pair_on_disk(lab: DeployLab) -> str:
    """The certificate at tls.crt, after checking that tls.key belongs to it (a server's load)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(lab.cert_path, lab.key_path)
    return fp(x509.load_pem_x509_certificate(pathlib.Path(lab.cert_path).read_bytes()))


def _loaded(svc: GoReloader) -> list[str]:
    return [e["fingerprint"] for e in svc.events() if e["event"] in ("loaded", "reloaded")]


@pytest.mark.parametrize("watch, extra", [("dir", {}), ("file", {"in_place": True})], ids=["dir-atomic", "file-in-place"])
def test_watcher_serves_deploy_and_rollback_without_signal(tmp_path: pathlib.Path, watch: str,
                                                           extra: dict[str, t.Any]) -> None:
    lab = _lab(tmp_path)
    first, second = lab.issue(), lab.issue()
    run = run_module("ghostguard.certs.deploy", _args(lab, first, **extra))
    assert run.rc == 0, run.stdout + run.stderr
    with GoReloader(str(tmp_path / "svc"), lab.cert_path, lab.key_path, watch=watch) as svc:
        _prove(lab, svc, fp(first.cert))
        run = run_module("ghostguard.certs.deploy", _args(lab, second, **extra))
        assert run.rc == 0 and run.result["changed"] is True, run.stdout + run.stderr
        svc.wait_for("reloaded", fingerprint=fp(second.cert))
        _prove(lab, svc, fp(second.cert))
        back = run_module("ghostguard.certs.deploy", {**_args(lab, second, **extra), "state": "rollback"})
        assert back.rc == 0 and back.result["changed"] is True, back.stdout + back.stderr
        svc.wait_for("reloaded", fingerprint=fp(first.cert), previous=fp(second.cert))
        _prove(lab, svc, fp(first.cert))
        # a validating watcher only ever loaded whole pairs: the two certificates, in order
        assert _loaded(svc) == [fp(first.cert), fp(second.cert), fp(first.cert)], svc.events()
        assert all(e["event"] != "refused" or "private key does not match" in e["error"] for e in svc.events())
    assert _pair_on_disk(lab) == fp(first.cert)


def test_file_watcher_misses_an_atomic_deploy(tmp_path: pathlib.Path) -> None:
    """Why in_place exists: a file watcher's inotify watch sits on the old inode, so a rename-based
    deploy is invisible to it; the service stays a ghost until something writes its files."""
    lab = _lab(tmp_path)
    first, second = lab.issue(), lab.issue()
    assert run_module("ghostguard.certs.deploy", _args(lab, first)).rc == 0
    with GoReloader(str(tmp_path / "svc"), lab.cert_path, lab.key_path, watch="file") as svc:
        _prove(lab, svc, fp(first.cert))
        assert run_module("ghostguard.certs.deploy", _args(lab, second)).rc == 0
        ghost = run_module("ghostguard.certs.endpoint_info", {
            "host": "127.0.0.1", "port": svc.port, "server_name": lab.name, "ca_bundle": lab.root_file,
            "expected_fingerprint": fp(second.cert), "retries": 5, "retry_delay": 0.2, "fail_on_mismatch": False,
        }).result
        assert ghost["matches_expected"] is False and ghost["certificate"]["fingerprint_sha256"] == fp(first.cert)
        assert _loaded(svc) == [fp(first.cert)]
