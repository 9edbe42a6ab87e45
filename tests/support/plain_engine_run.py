# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the engine's typed entry points from a plain Python with no Ansible: what the host agent does.

    python plain_engine_run.py ENGINE_PARENT < config.json   # prints one JSON result

The engine files are imported as the plain package ``ghostguard_certs`` (a copy of
plugins/module_utils, as the certwatch role installs it).  In order: scan a directory, decide
(policy), issue over DNS-01 against the lab (bundle in memory), install through the generation
store, serve the installed pair over TLS and probe it, then decide again.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
import threading
import typing as t


def serve(cert: str, key: str) -> tuple[socket.socket, int]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)

    def loop() -> None:
        while True:
            try:
                conn, _addr = sock.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    threading.Thread(target=loop, daemon=True).start()
    return sock, int(sock.getsockname()[1])


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    from ghostguard_certs import _expiry, _policy
    from ghostguard_certs._acme import decide as _decide
    from ghostguard_certs._acme import issue as _issue
    from ghostguard_certs._install import deploy as _deploy
    from ghostguard_certs._tls import probe as _probe

    cfg = json.load(sys.stdin)
    out: dict[str, t.Any] = {}
    svc = cfg["service_dir"]
    cert, key, fullchain = (os.path.join(svc, n) for n in ("tls.crt", "tls.key", "fullchain.pem"))
    policy = _policy.Policy.from_options({"renew_before": "30d"})

    scanned = _expiry.scan(_expiry.ScanRequest.from_options({"paths": [svc], "key_match": True}))
    out["scan_before"] = [(os.path.basename(c["path"]), c["status"]) for c in scanned.facts()["certificates"]]
    before = _decide.decide(cert, key, cfg["names"], policy)
    out["decide_before"] = [before.due, before.reason]

    issued = _issue.issue(_issue.IssueRequest(
        names=cfg["names"],
        account=_issue.AcmeAccount(directory=cfg["directory"], ca_bundle=cfg["ca_bundle"],
                                   key_path=cfg["account_key_path"], email="ops@example.test", terms_agreed=True),
        dns=_issue.DnsChallenge(provider="rfc2136", settings=cfg["rfc2136"], nameservers=cfg["nameservers"],
                                propagation_timeout=20),
        timeout=60,
    ))
    out["issued_names"] = issued.names
    installed = _deploy.deploy(_deploy.DeployRequest(
        targets=_deploy.Targets(cert=cert, key=key, fullchain=fullchain), bundle=issued.bundle))
    out["installed"] = installed.facts()["certificate"]["fingerprint_sha256"]
    out["generation"] = installed.generation

    sock, port = serve(fullchain, key)
    try:
        probe = _probe.ProbeRequest.from_options({
            "host": "127.0.0.1", "port": port, "server_name": cfg["names"][0], "validate_certs": False,
            "expected_fingerprint": out["installed"], "timeout": 5})
        result = _probe.probe_endpoints(probe)
        _probe.require_ok(probe, result)
        out["probe"] = result.facts()["endpoints"][0]["matches_expected"]
    finally:
        sock.close()

    # a policy of now: the first one's instant precedes the new certificate's notBefore (a sub-second
    # run made it look not yet valid whenever issuance crossed a second boundary)
    after = _decide.decide(cert, key, cfg["names"], _policy.Policy.from_options({"renew_before": "30d"}))
    out["decide_after"] = [after.due, after.reason]
    out["ansible_loaded"] = sorted(m for m in sys.modules if m == "ansible" or m.startswith("ansible."))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
