# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ACME DNS-01 test lab: BIND9 + Pebble + an Alidns stand-in + an ACME proxy, on loopback.

Programmatic use (tests, ``make demo``, molecule)::

    from lab import Lab
    info = Lab.start(".lab")      # idempotent: returns the running lab's info when it is up
    ...
    Lab.stop(".lab")              # idempotent: stops every process recorded in .lab by PID

Command line: ``python tests/lab/lab.py start|stop|status [--state-dir DIR]``.

Every port is chosen free at start (nothing fixed: other suites run concurrently).  The state
directory holds configs, logs, PID files and ``info.json`` (the dict :meth:`Lab.start` returns).

Processes:
- ``named`` (primary): authoritative for ``example.test`` and ``delegated.test``; RFC 2136 with a
  TSIG key made by ``tsig-keygen``.  ``_acme-challenge.alias.example.test`` is a CNAME into
  ``delegated.test``.
- ``named`` (stale): serves the same zones from the same files but takes no updates, like a
  secondary that missed its NOTIFY; used to provoke propagation timeouts.
- ``pebble`` with ``-dnsserver`` pointing at the primary and ``PEBBLE_VA_NOSLEEP=1``.
- the Alidns stand-in (``alidns_standin.py``), which writes records into the primary by RFC 2136.
- the ACME proxy (``acme_proxy.py``) in front of Pebble: ARI, profiles, Retry-After, fault injection.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import typing as t
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_STATE_DIR = os.path.join(ROOT, ".lab")
ZONES = ("example.test", "delegated.test")
TSIG_NAME = "ghostguard-lab"
ALIDNS_KEY_ID = "LTAIlabAccessKey0001"
FILLER_DOMAINS = 130  # more than one DescribeDomains page (PageSize max 100)


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (DNS needs both)."""
    for _attempt in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port found")


def _pid_alive(pid: int, expect: str) -> bool:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as handle:
            if handle.read().split(")")[-1].split()[0] == "Z":
                return False
    except OSError:
        return False
    return expect in cmdline


def _wait_port(port: int, timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None,
               log: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    tail = ""
    if log and os.path.exists(log):
        with open(log, errors="replace") as handle:
            tail = handle.read()[-2000:]
    raise RuntimeError("lab: %s did not start listening on 127.0.0.1:%d\n%s" % (what, port, tail))


def _write(path: str, data: str | bytes, mode: int = 0o644) -> None:
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(raw)
    os.chmod(path, mode)


def make_listener_tls(directory: str) -> tuple[str, str, str]:
    """A throw-away CA and a localhost/127.0.0.1 server certificate.  Returns (ca, cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ghostguard lab listener CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (os.path.join(directory, "listener-ca.pem"), os.path.join(directory, "listener.pem"),
             os.path.join(directory, "listener.key"))
    _write(paths[0], ca.public_bytes(serialization.Encoding.PEM))
    _write(paths[1], leaf.public_bytes(serialization.Encoding.PEM))
    _write(paths[2], key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), 0o600)
    return paths


def _spawn(cmd: list[str], log: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env, close_fds=True)


def _start_helper(state: str, name: str, script: str, conf: dict[str, t.Any], port: int, label: str) -> int:
    """Start one of the lab's own Python servers with its JSON config (0600); wait for its port; return its PID."""
    conf_path = os.path.join(state, name + ".json")
    _write(conf_path, json.dumps(conf, indent=2), 0o600)
    log = os.path.join(state, name + ".log")
    proc = _spawn([sys.executable, os.path.join(HERE, script), conf_path], log)
    _write(os.path.join(state, name + ".pid"), str(proc.pid))
    _wait_port(port, 15, label, proc, log)
    return proc.pid


def _fetch(url: str, cafile: str, timeout: float = 10.0) -> bytes:
    ctx = ssl.create_default_context(cafile=cafile)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=5) as resp:
                return bytes(resp.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# --------------------------------------------------------------------------- BIND


def _tsig_secret(state: str) -> str:
    out = subprocess.run(["tsig-keygen", "-a", "hmac-sha256", TSIG_NAME], capture_output=True, text=True, check=True)
    _write(os.path.join(state, "tsig.key"), out.stdout, 0o600)
    for line in out.stdout.splitlines():
        line = line.strip()
        if line.startswith("secret"):
            return line.split('"')[1]
    raise RuntimeError("tsig-keygen printed no secret")


def zone_text(zone: str) -> str:
    lines = [
        "$TTL 60",
        "@ IN SOA ns1.%s. hostmaster.%s. 1 60 60 3600 5" % (zone, zone),
        "@ IN NS ns1.%s." % zone,
        "ns1 IN A 127.0.0.1",
    ]
    if zone == "example.test":
        lines += [
            "@ IN A 127.0.0.1",
            "www IN A 127.0.0.1",
            "; a name whose DNS-01 record lives in another zone",
            "_acme-challenge.alias IN CNAME alias.acme.delegated.test.",
        ]
    return "\n".join(lines) + "\n"


def _named_conf(bind_dir: str, port: int, tsig_secret: str, updates: bool) -> str:
    zones = []
    for zone in ZONES:
        update = 'allow-update { key "%s"; };' % TSIG_NAME if updates else "allow-update { none; };"
        zones.append('zone "%s" { type primary; file "%s/%s.db"; %s notify no; };' % (zone, bind_dir, zone, update))
    return """
key "%(key)s" { algorithm hmac-sha256; secret "%(secret)s"; };
options {
  directory "%(dir)s";
  pid-file "%(dir)s/named.pid";
  session-keyfile "%(dir)s/session.key";
  listen-on port %(port)d { 127.0.0.1; };
  listen-on-v6 { none; };
  // Recursion only so that a CNAME into the other local zone is chased for Pebble (as a CA's
  // recursive resolver would); no root hints are reachable, so nothing leaves the host.
  recursion yes;
  allow-recursion { 127.0.0.1; };
  allow-query { any; };
  dnssec-validation no;
  notify no;
  minimal-responses yes;
};
controls { };
%(zones)s
""" % {"key": TSIG_NAME, "secret": tsig_secret, "dir": bind_dir, "port": port, "zones": "\n".join(zones)}


def _start_named(state: str, name: str, tsig_secret: str, updates: bool) -> tuple[int, int]:
    bind_dir = os.path.join(state, name)
    shutil.rmtree(bind_dir, ignore_errors=True)
    os.makedirs(bind_dir)
    for zone in ZONES:
        _write(os.path.join(bind_dir, zone + ".db"), zone_text(zone))
    port = free_port()
    conf = os.path.join(bind_dir, "named.conf")
    _write(conf, _named_conf(bind_dir, port, tsig_secret, updates), 0o600)
    check = subprocess.run(["named-checkconf", conf], capture_output=True, text=True, check=False)
    if check.returncode:
        raise RuntimeError("lab: named.conf invalid: %s" % (check.stdout + check.stderr))
    log = os.path.join(state, name + ".log")
    proc = _spawn(["/usr/sbin/named", "-g", "-4", "-n", "1", "-c", conf], log)
    _write(os.path.join(state, name + ".pid"), str(proc.pid))
    _wait_port(port, 15, name, proc, log)
    return proc.pid, port


# --------------------------------------------------------------------------- Pebble


def start_pebble(state: str, name: str, dns_port: int, nonce_reject: int = 0,
                 extra_env: dict[str, str] | None = None,
                 eab_keys: dict[str, str] | None = None, validity: int = 7776000) -> dict[str, t.Any]:
    """Start one Pebble (listener TLS made fresh), return its part of the lab info.

    Tests that must disturb Pebble (kill it mid-order, 50% badNonce) start their own with this; *validity* is
    the lifetime of the certificates it issues in seconds (518400: the 6-day certificates of a short-lived profile).
    """
    pdir = os.path.join(state, name)
    shutil.rmtree(pdir, ignore_errors=True)
    os.makedirs(pdir)
    ca, cert, key = make_listener_tls(pdir)
    port, mgmt = free_port(), free_port()
    config = {
        "pebble": {
            "listenAddress": "127.0.0.1:%d" % port,
            "managementListenAddress": "127.0.0.1:%d" % mgmt,
            "certificate": cert,
            "privateKey": key,
            "httpPort": free_port(),
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": bool(eab_keys),
            "externalAccountMACKeys": dict(eab_keys or {}),
            "certificateValidityPeriod": int(validity),
        }
    }
    conf = os.path.join(pdir, "pebble.json")
    _write(conf, json.dumps(config, indent=2))
    env = dict(os.environ)
    env.update(PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT=str(nonce_reject), PEBBLE_AUTHZREUSE="0")
    env.update(extra_env or {})
    log = os.path.join(state, name + ".log")
    proc = _spawn(["/usr/bin/pebble", "-config", conf, "-dnsserver", "127.0.0.1:%d" % dns_port], log, env)
    _write(os.path.join(state, name + ".pid"), str(proc.pid))
    _wait_port(port, 20, "pebble", proc, log)
    _wait_port(mgmt, 20, "pebble management", proc, log)
    roots = _fetch("https://127.0.0.1:%d/roots/0" % mgmt, ca)
    roots_path = os.path.join(pdir, "issuer-roots.pem")
    _write(roots_path, roots)
    return {
        "pid": proc.pid,
        "port": port,
        "management_port": mgmt,
        "directory": "https://127.0.0.1:%d/dir" % port,
        "ca_bundle": ca,
        "listener_cert": cert,
        "listener_key": key,
        "issuer_roots": roots_path,
        "nonce_reject": nonce_reject,
    }


def start_proxy(state: str, name: str, pebble: t.Mapping[str, t.Any],
                profiles: dict[str, str] | None = None) -> dict[str, t.Any]:
    """Start an ACME proxy (acme_proxy.py) in front of *pebble*; its control and stats files are
    ``<name>-control.json`` and ``<name>-stats.json``; *profiles* replaces the profiles its directory offers."""
    port = free_port()
    conf: dict[str, t.Any] = {
        "port": port,
        "upstream": "https://127.0.0.1:%d" % pebble["port"],
        "upstream_ca": pebble["ca_bundle"],
        "cert": pebble["listener_cert"],
        "key": pebble["listener_key"],
        "control_file": os.path.join(state, name + "-control.json"),
        "stats_file": os.path.join(state, name + "-stats.json"),
    }
    if profiles is not None:
        conf["profiles"] = profiles
    pid = _start_helper(state, name, "acme_proxy.py", conf, port, "acme proxy")
    return {"pid": pid, "port": port, "directory": "https://127.0.0.1:%d/dir" % port,
            "control_file": conf["control_file"], "stats_file": conf["stats_file"]}


def stop_pid_file(state: str, name: str, expect: str) -> None:
    path = os.path.join(state, name + ".pid")
    try:
        with open(path) as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return
    if _pid_alive(pid, expect):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _pid_alive(pid, expect):
            time.sleep(0.05)
        if _pid_alive(pid, expect):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    with contextlib.suppress(OSError):
        os.unlink(path)


# --------------------------------------------------------------------------- the lab


PROCESSES = (
    ("named", "named"),
    ("named-stale", "named"),
    ("pebble", "pebble"),
    ("alidns", "alidns_standin.py"),
    ("proxy", "acme_proxy.py"),
)


class Lab:
    """Start, stop and describe the lab living in one state directory."""

    @staticmethod
    def info_path(state_dir: str) -> str:
        return os.path.join(os.path.abspath(state_dir), "info.json")

    @classmethod
    def status(cls, state_dir: str = DEFAULT_STATE_DIR) -> dict[str, t.Any] | None:
        """The info dict when every lab process is alive, else None."""
        try:
            with open(cls.info_path(state_dir)) as handle:
                info: dict[str, t.Any] = json.load(handle)
        except (OSError, ValueError):
            return None
        for name, expect in PROCESSES:
            if not _pid_alive(int(info["pids"].get(name, 0)), expect):
                return None
        return info

    @classmethod
    def start(cls, state_dir: str = DEFAULT_STATE_DIR, throttle_rate: float = 0.0) -> dict[str, t.Any]:
        """Start the lab (or return the info of the one already running in *state_dir*)."""
        state = os.path.abspath(state_dir)
        running = cls.status(state)
        if running is not None:
            return running
        cls.stop(state)
        os.makedirs(state, exist_ok=True)
        os.chmod(state, 0o700)
        try:
            return cls._start(state, throttle_rate)
        except BaseException:
            cls.stop(state)
            raise

    @classmethod
    def _start(cls, state: str, throttle_rate: float) -> dict[str, t.Any]:
        secret = _tsig_secret(state)
        named_pid, dns_port = _start_named(state, "named", secret, updates=True)
        stale_pid, stale_port = _start_named(state, "named-stale", secret, updates=False)
        pebble = start_pebble(state, "pebble", dns_port, nonce_reject=5)

        # Alidns stand-in
        alidns_secret = base64.urlsafe_b64encode(secrets.token_bytes(21)).decode()
        alidns_port = free_port()
        alidns_conf = {
            "port": alidns_port,
            "credentials": {ALIDNS_KEY_ID: alidns_secret},
            "domains": list(ZONES) + ["filler-%03d.test" % i for i in range(FILLER_DOMAINS)],
            "bind_zones": list(ZONES),
            "dns_server": "127.0.0.1",
            "dns_port": dns_port,
            "tsig_name": TSIG_NAME,
            "tsig_secret": secret,
            "throttle_rate": throttle_rate,
            "control_file": os.path.join(state, "alidns-control.json"),
            "stats_file": os.path.join(state, "alidns-stats.json"),
        }
        alidns_pid = _start_helper(state, "alidns", "alidns_standin.py", alidns_conf, alidns_port, "alidns stand-in")

        proxy = start_proxy(state, "proxy", pebble)
        proxy_pid = proxy.pop("pid")

        info: dict[str, t.Any] = {
            "state_dir": state,
            "zones": list(ZONES),
            "cname_name": "alias.example.test",
            "cname_target": "alias.acme.delegated.test",
            "dns": {"server": "127.0.0.1", "port": dns_port, "nameserver": "127.0.0.1:%d" % dns_port},
            "dns_stale": {"server": "127.0.0.1", "port": stale_port, "nameserver": "127.0.0.1:%d" % stale_port},
            "tsig": {"name": TSIG_NAME, "algorithm": "hmac-sha256", "secret": secret,
                     "file": os.path.join(state, "tsig.key")},
            "pebble": pebble,
            "directory": pebble["directory"],
            "ca_bundle": pebble["ca_bundle"],
            "issuer_roots": pebble["issuer_roots"],
            "alidns": {
                "endpoint": "127.0.0.1:%d" % alidns_port,
                "port": alidns_port,
                "protocol": "http",
                "access_key_id": ALIDNS_KEY_ID,
                "access_key_secret": alidns_secret,
                "control_file": alidns_conf["control_file"],
                "stats_file": alidns_conf["stats_file"],
            },
            "proxy": proxy,
            "pids": {"named": named_pid, "named-stale": stale_pid, "pebble": pebble["pid"],
                     "alidns": alidns_pid, "proxy": proxy_pid},
        }
        _write(cls.info_path(state), json.dumps(info, indent=2), 0o600)
        return info

    @classmethod
    def stop(cls, state_dir: str = DEFAULT_STATE_DIR) -> None:
        """Stop every lab process recorded in *state_dir* (by PID; safe to call twice)."""
        state = os.path.abspath(state_dir)
        if not os.path.isdir(state):
            return
        for name, expect in reversed(PROCESSES):
            stop_pid_file(state, name, expect)
        with contextlib.suppress(OSError):
            os.unlink(cls.info_path(state))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--state-dir", default=os.environ.get("GHOSTGUARD_LAB_DIR", DEFAULT_STATE_DIR))
    args = parser.parse_args(argv)
    if args.action == "start":
        info = Lab.start(args.state_dir)
        print(json.dumps({k: v for k, v in info.items() if k not in ("tsig", "alidns")} | {
            "info_file": Lab.info_path(args.state_dir)}, indent=2))
        return 0
    if args.action == "stop":
        Lab.stop(args.state_dir)
        return 0
    info = Lab.status(args.state_dir)
    print("running" if info else "stopped")
    return 0 if info else 3


if __name__ == "__main__":
    sys.exit(main())
