"""make demo, part 2: the lab on loopback, two live services with certificates about to expire,
and demo/renew_lab.yml renewing, installing, reloading and proving them.

Starts Pebble + BIND9 + the Alidns stand-in (tests/lab), nginx serving order.svc.example.test and a
gRPC server (TLS, ALPN h2) serving inventory.svc.example.test, runs the playbook, prints what was
renewed and proved, and stops everything it started.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import typing as t

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
for sub in ("tests/support", "tests/lab"):
    sys.path.insert(0, os.path.join(ROOT, sub))

from ansible_run import ansible_env  # noqa: E402
from certgen import TestCA, now  # noqa: E402
from lab import Lab  # noqa: E402
from services import GrpcServer, Nginx, Site  # noqa: E402


def main(out: str) -> int:
    lab_dir = os.path.join(out, "lab")
    print("== starting the lab: Pebble (ACME), BIND9 (RFC 2136), Alidns API stand-in, on loopback")
    info = Lab.start(lab_dir)
    nginx = grpc = None
    try:
        old_ca = TestCA("ghostguard demo CA")
        services: list[dict[str, t.Any]] = []
        specs = [
            ("order", ["order.svc.example.test"], "rfc2136", 90, 89.3),      # critical: 17 h left
            ("inventory", ["inventory.svc.example.test"], "alidns", 30, 31),  # expired yesterday
        ]
        for name, names, provider, days, age in specs:
            live = os.path.join(out, "services", name)
            issued = old_ca.issue(names, days=days, not_before=now() - dt.timedelta(days=age))
            os.makedirs(live, exist_ok=True)
            fullchain, key = os.path.join(live, "fullchain.pem"), os.path.join(live, "privkey.pem")
            with open(fullchain, "wb") as handle:
                handle.write(issued.fullchain_pem)
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(issued.key_pem)
            services.append({"name": name, "names": names, "provider": provider, "fullchain_path": fullchain,
                             "key_path": key, "stage": os.path.join(out, "stage", name)})

        site = Site(services[0]["fullchain_path"], services[0]["key_path"], server_name=services[0]["names"][0])
        nginx = Nginx(os.path.join(out, "nginx"), [site]).start()
        services[0].update(port=nginx.sites[0].port, alpn=[],
                           reload=[nginx.binary, "-p", nginx.prefix, "-c", nginx.conf, "-s", "reload"])
        grpc = GrpcServer(os.path.join(out, "grpc"), services[1]["fullchain_path"], services[1]["key_path"]).start()
        assert grpc.proc is not None
        services[1].update(port=grpc.port, alpn=["h2"], reload=["kill", "-HUP", str(grpc.proc.pid)])
        print("== services: nginx on 127.0.0.1:%d (%s), gRPC on 127.0.0.1:%d (%s)"
              % (services[0]["port"], services[0]["names"][0], services[1]["port"], services[1]["names"][0]))

        ns = info["dns"]["nameserver"]
        demo_lab = {
            "directory": info["directory"], "ca_bundle": info["ca_bundle"], "issuer_roots": info["issuer_roots"],
            "account_key": os.path.join(out, "stage", "account.key"), "nameservers": [ns],
            "rfc2136": {"server": ns, "key_name": info["tsig"]["name"], "key_secret": info["tsig"]["secret"],
                        "key_algorithm": "hmac-sha256"},
            "alidns": {"access_key_id": info["alidns"]["access_key_id"],
                       "access_key_secret": info["alidns"]["access_key_secret"],
                       "endpoint": info["alidns"]["endpoint"], "protocol": "http"},
        }
        summary = os.path.join(out, "renew-summary.json")
        varsfile = os.path.join(out, "renew-vars.json")
        fd = os.open(varsfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds the lab's TSIG/Alidns secrets
        with os.fdopen(fd, "w") as handle:
            json.dump({"demo_lab": demo_lab, "demo_services": services, "demo_summary": summary}, handle)
        print("== ansible-playbook demo/renew_lab.yml")
        log = os.path.join(out, "renew.log")
        with open(log, "w") as handle:
            proc = subprocess.run(
                [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                 os.path.join(ROOT, "demo", "renew_lab.yml"), "-e", "@" + varsfile],
                stdout=handle, stderr=subprocess.STDOUT, env=ansible_env(), cwd=ROOT, check=False,
            )
        with open(log) as handle:
            text = handle.read()
        print(text[text.index("PLAY RECAP"):] if "PLAY RECAP" in text else text[-4000:])
        if proc.returncode != 0:
            print("renewal playbook failed (rc %d); full log: %s" % (proc.returncode, log))
            return 1
        report(summary, grpc, info)
        print("Full run: %s" % log)
        return 0
    finally:
        for service in (grpc, nginx):
            if service is not None:
                service.stop()
        Lab.stop(lab_dir)


def report(summary_path: str, grpc: GrpcServer, info: dict[str, t.Any]) -> None:
    with open(summary_path) as handle:
        summary = json.load(handle)
    before = {c["path"]: c for c in summary["live"]}
    proofs = {e.get("name"): e for e in summary["proof"].get("endpoints", [])}
    print("== renewed and proved")
    rows = [("SERVICE", "WAS", "RENEWED VIA", "NEW SERIAL", "NOT AFTER", "GENERATION", "SERVED", "TLS", "HANDSHAKE")]
    for deploy in summary["deploys"]:
        order = deploy["item"]
        service = order["item"]
        old = before[service["fullchain_path"]]
        proof = proofs.get(service["name"], {})
        new = deploy.get("certificate") or {}
        served = "MATCH" if proof.get("matches_expected") else "MISMATCH (ghost)"
        tls = "%s%s" % (proof.get("tls_version", "?"), " h2" if proof.get("alpn_protocol") == "h2" else "")
        rows.append((service["name"], "%s %s" % (old["status"], old["not_after"]),
                     service["provider"],
                     new.get("serial", "-")[:23], new.get("not_after", "-"), str(deploy.get("generation", "-")),
                     served, tls, "%.1f ms" % proof.get("handshake_ms", 0.0)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    reply = grpc.ping(info["issuer_roots"], "inventory.svc.example.test")
    print("gRPC call over the new certificate: %s" % reply)


if __name__ == "__main__":
    sys.exit(main(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "demo", "out"))))
