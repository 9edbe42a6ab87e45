# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch host agent: ``certwatch check | renew | status | reload | validate``.

Installed by the ``ghostguard.certs.certwatch`` role into a venv on each host and run by
``certwatch.timer`` (or cron).  Plain Python, no Ansible import.

Exit codes (documented in the role's README and ``certwatch --help``):

== =======================================================================================
0  every certificate is fine and every service serves the certificate on disk
1  something needs attention: a certificate is due, critical, expired, not yet valid,
   invalid or missing, a service serves another certificate (a ghost), or a probe failed
2  a renewal, installation, reload or proof failed (a failed proof was rolled back)
3  the configuration is unusable (nothing was done); the message names the problem
== =======================================================================================

Each run writes one JSON line per certificate to standard output (the journal under systemd),
a Prometheus textfile, and its state (counters, last run) under ``state_dir``.  Nothing due means
no ACME or DNS library is imported and no network is used but the probes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
import typing as t

from . import _agent_engine as engine
from . import _metrics
from ._agent_config import DEFAULT_CONFIG, ConfigError, load_config, load_secrets
from ._agent_fast import _memo_results, _plain_handshake, _remember, _timer_args
from ._agent_report import (
    ATTENTION,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    CertResult,
    _counters_declare,
    build_metrics,
    exit_code,
    status_table,
)
from ._errors import CertsError

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_OK", "main", "run"]


def _describe_all(cfg: dict[str, t.Any], policy: t.Any) -> list[CertResult]:
    paths = [c.get("cert_path") or c["fullchain_path"] for c in cfg["certificates"]]
    described, errors = engine.engine_scan([p for p in paths if os.path.exists(p)], policy) if paths else ({}, {})
    results = []
    for cert, path in zip(cfg["certificates"], paths):
        if not os.path.exists(path):
            results.append(CertResult(cert["name"], path, "missing", error="%s does not exist" % path))
        elif path in described:
            desc = described[path]
            results.append(CertResult(cert["name"], path, desc["status"], description=desc))
        else:
            results.append(CertResult(cert["name"], path, "invalid", error=errors.get(path, "not a certificate")))
    return results


def _watches(cert: t.Mapping[str, t.Any]) -> bool:
    """The service watches its own files (``reload: {watch: true}``): no signal, it is waited for."""
    return "watch" in (cert.get("reload") or {})


def _proving(cfg: t.Mapping[str, t.Any], cert: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """How to prove *cert* after an install or a reload: constant waits (``prove.retries`` x ``retry_delay``),
    or for a service that watches its own files (``reload: {watch: true}``, no signal) growing waits
    (``prove.watch_*``), bounded, after which it is a ghost."""
    prove = cfg["prove"]
    if _watches(cert):
        return {"retries": int(prove["watch_retries"]), "delay": float(prove["watch_retry_delay"]),
                "backoff": float(prove["watch_backoff"]), "max_delay": float(prove["watch_max_delay"])}
    return {"retries": int(prove["retries"]), "delay": float(prove["retry_delay"])}


def _probe(cert: dict[str, t.Any], result: CertResult, retries: int = 0, delay: float = 1.0, backoff: float = 1.0,
           max_delay: float | None = None) -> None:
    if not cert["probes"]:
        result.probes = []
        return
    endpoints = []
    for ep in cert["probes"]:
        entry = dict(ep)
        entry.setdefault("timeout", 5.0)
        if retries:
            entry["retries"] = max(int(entry.get("retries") or 0), retries)
            entry.update(retry_delay=delay, retry_backoff=backoff, retry_max_delay=max_delay)
        endpoints.append(entry)
    expected = result.fingerprint
    plain = [] if retries or expected is None else [_plain_handshake(ep, expected) for ep in endpoints]
    found = [p for p in plain if p is not None]
    answers = found if plain and len(found) == len(plain) else engine.engine_probe(endpoints, expected)
    probes = []
    for ep, res in zip(endpoints, answers):
        served = (res.get("certificate") or {}).get("fingerprint_sha256")
        probes.append({
            "endpoint": "%s:%s" % (ep["host"], ep.get("port", 443)),
            "server_name": ep.get("server_name") or ep["host"],
            "served_fingerprint": served,
            "served_matches": None if served is None or expected is None else served == expected,
            "error": res.get("error"),
            "error_message": res.get("error_message"),
            "handshake_ms": res.get("handshake_ms"),
            "attempts": res.get("attempts", 1),
            "waited": res.get("waited", 0.0),
        })
    result.probes = probes


def _reload(cert: t.Mapping[str, t.Any]) -> str | None:
    """Reload the certificate's service; return an error message or None."""
    import subprocess

    spec = cert.get("reload") or {}
    try:
        if "systemd" in spec:
            # The agent runs without Ansible (no AnsibleModule.run_command): a plain subprocess is the way here.
            proc = subprocess.run(  # pylint: disable=ansible-bad-function
                ["systemctl", "reload", str(spec["systemd"])], capture_output=True, text=True, timeout=120, check=False)
            if proc.returncode != 0:
                return "systemctl reload %s failed: %s" % (spec["systemd"], (proc.stderr or proc.stdout).strip()[-300:])
        elif "signal" in spec:
            import signal

            name = str(spec["signal"]).upper()
            signum = getattr(signal, name if name.startswith("SIG") else "SIG" + name)
            with open(spec["pidfile"], encoding="ascii") as handle:
                pid = int(handle.read().split()[0])
            os.kill(pid, signum)
        elif "command" in spec:
            proc = subprocess.run(  # pylint: disable=ansible-bad-function
                [str(a) for a in spec["command"]], capture_output=True, text=True, timeout=120, check=False)
            if proc.returncode != 0:
                detail = (proc.stderr or proc.stdout).strip()[-300:]
                return "reload command %s exited %d: %s" % (spec["command"][0], proc.returncode, detail)
    except (OSError, ValueError, IndexError, subprocess.SubprocessError) as exc:
        return "reload of %s failed: %s" % (cert["name"], exc)
    return None


@contextlib.contextmanager
def _locked(state_dir: str) -> t.Iterator[None]:
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(state_dir, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CertsError("another certwatch run holds %s/lock for 10 minutes; check it with "
                                     "'systemctl status certwatch.service'" % state_dir) from None
                time.sleep(0.5)
        yield
    finally:
        os.close(fd)


def _load_state(state_dir: str) -> dict[str, t.Any]:
    try:
        with open(os.path.join(state_dir, "last-run.json"), encoding="utf-8") as handle:
            data = json.load(handle)
            return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _renew(cfg: dict[str, t.Any], cert: dict[str, t.Any], res: CertResult, counters: _metrics.Counters,
           secrets: dict[str, t.Any], policy: t.Any, log: t.Callable[[str], None]) -> None:
    counters.inc("ghostguard_renewal_attempts_total", name=cert["name"])
    old_fingerprint = res.fingerprint
    step = "issue"
    try:
        facts = engine.engine_issue_and_install(cert, cfg, secrets)
        step = "install"
        new = facts["certificate"]
        res.description, res.status, res.renewed, res.error = new, new["status"], True, None
    except CertsError as exc:
        counters.inc("ghostguard_renewal_attempts_failed_total", name=cert["name"], reason=step)
        res.outcome, res.failure, res.error = "renewal_failed", step, str(exc)
        log("certwatch: %s: renewal failed at %s: %s" % (cert["name"], step, exc))
        return
    error = _reload(cert)  # nothing to do for a service that watches its files: it is waited for
    if error is None:
        _probe(cert, res, **_proving(cfg, cert))
        bad = [p for p in res.probes if p["served_matches"] is not True]
        if not bad:
            res.outcome = "renewed"
            log("certwatch: %s: renewed, serves %s" % (cert["name"], res.fingerprint))
            return
        # A watching service that kept serving the old certificate through every bounded wait is a ghost.
        step = "ghost" if _watches(cert) and all(p["served_matches"] is False for p in bad) else "proof"
        error = "; ".join("%s serves %s (%s)" % (p["endpoint"], p["served_fingerprint"], p["error_message"] or "mismatch")
                          for p in bad)
        if step == "ghost":
            error = "%s; the service watches its files (reload: {watch: true}) and did not pick up the new certificate " \
                    "after %d attempts and %ss of waiting" % (error, bad[0]["attempts"], bad[0]["waited"])
    else:
        step = "reload"
    counters.inc("ghostguard_renewal_attempts_failed_total", name=cert["name"], reason=step)
    res.failure, res.error = step, error
    log("certwatch: %s: %s failed after install (%s); rolling back" % (cert["name"], step, error))
    try:
        engine.engine_rollback(cert, t.cast(str, res.fingerprint))
        _reload(cert)
        rescanned = _describe_all({**cfg, "certificates": [cert]}, policy)[0]
        res.description, res.status = rescanned.description, rescanned.status
        _probe(cert, res, **_proving(cfg, cert))
        res.outcome = "rolled_back"
        if old_fingerprint and res.fingerprint != old_fingerprint:
            res.outcome = "rollback_incomplete"
    except CertsError as exc:
        res.outcome = "rollback_failed"
        res.error = "%s; rollback failed too: %s" % (error, exc)


def run(cfg: dict[str, t.Any], command: str, now: str | None = None, write: bool = True,
        out: t.TextIO = sys.stdout, err: t.TextIO = sys.stderr) -> tuple[int, list[CertResult], dict[str, t.Any]]:
    """One agent run; returns (exit code, per-certificate results, run summary)."""
    state_dir = cfg["state_dir"]
    policy: t.Any = None

    def log(message: str) -> None:
        err.write(message + "\n")

    lock = _locked(state_dir) if write else contextlib.nullcontext()
    with lock:
        counters = _metrics.Counters(os.path.join(state_dir, "counters.json") if write else None)
        if counters.load_error:
            log("certwatch: " + counters.load_error)
        _counters_declare(counters, cfg)
        results = None if now else _memo_results(cfg)
        if results is None:
            policy = engine.engine_policy(cfg["policy"], now)
            results = _describe_all(cfg, policy)
            if write and not now:
                _remember(cfg, results, policy)
        secrets: dict[str, t.Any] | None = None
        for cert, res in zip(cfg["certificates"], results):
            renewable = command == "renew" and cfg["mode"] == "renew" and cert["issue_on"] == "host"
            if renewable and (res.status in ATTENTION or (res.description or {}).get("due")):
                if secrets is None:
                    secrets = load_secrets(cfg)
                _renew(cfg, cert, res, counters, secrets, policy or engine.engine_policy(cfg["policy"]), log)
            else:
                _probe(cert, res)
                if res.ghosts:
                    res.outcome = "ghost"
            for probe in res.probes:
                if probe["error"]:
                    counters.inc("ghostguard_tls_handshake_errors_total", name=res.name, endpoint=probe["endpoint"],
                                 error=probe["error"])
        clock = engine.engine_clock()
        finished = time.time()
        failed = any(r.failure for r in results)
        state = _load_state(state_dir)
        last_success = finished if write and not failed else state.get("last_success")
        summary = {
            "host": cfg.get("host"),
            "mode": cfg["mode"],
            "command": command,
            "finished": finished,
            "last_success": last_success,
            "clock": clock,
        }
        if write:
            for res in results:
                out.write(json.dumps(res.log_record(cfg.get("host")), sort_keys=True) + "\n")
                out.flush()
            text = build_metrics(cfg, results, counters, clock, finished, last_success)
            _metrics.write_textfile(cfg["metrics_dir"], cfg["metrics_name"], text)
            counters.save()
            state_data = {**summary, "certificates": {r.name: r.log_record(cfg.get("host")) for r in results}}
            from ._durable import write_atomic

            write_atomic(os.path.join(state_dir, "last-run.json"),
                         (json.dumps(state_data, indent=1, sort_keys=True) + "\n").encode(), 0o600, durable=False)
        else:
            summary["last_run"] = state.get("finished")
            summary["last_outcomes"] = {k: v.get("outcome") for k, v in (state.get("certificates") or {}).items()}
    return exit_code(results), results, summary


def _reload_command(cfg: dict[str, t.Any], names: list[str], changed: bool, policy: t.Any,
                    err: t.TextIO) -> int:
    unknown = sorted(set(names) - {c["name"] for c in cfg["certificates"]})
    if unknown:
        raise ConfigError("no certificate named %s in the configuration" % ", ".join(unknown))
    chosen = [c for c in cfg["certificates"] if not names or c["name"] in names]
    results = _describe_all({**cfg, "certificates": chosen}, policy)
    code = EXIT_OK
    for cert, res in zip(chosen, results):
        if changed:
            _probe(cert, res)
            if not res.ghosts:
                continue
        error = _reload(cert)
        if error is None:
            _probe(cert, res, **_proving(cfg, cert))
            if res.ghosts or any(p["served_matches"] is not True for p in res.probes):
                error = "after the reload %s still does not serve %s" % (cert["name"], res.fingerprint)
        err.write("certwatch: %s: %s\n" % (cert["name"], error or "reloaded"))
        if error is not None:
            code = EXIT_FAILED
    return code


def _parse(argv: list[str]) -> t.Any:
    import argparse

    parser = argparse.ArgumentParser(
        prog="certwatch",
        description="ghostguard certificate agent: check, renew and prove the certificates of this host.",
        epilog="exit codes: 0 all fine; 1 something due, critical, missing, a ghost or a probe error; "
               "2 a renewal, install, reload or proof failed; 3 configuration error (nothing done)",
    )
    parser.add_argument("--config", default=os.environ.get("CERTWATCH_CONFIG", DEFAULT_CONFIG))
    parser.add_argument("--now", help="ISO 8601 time to evaluate at (what-if; status and check only)")
    parser.add_argument("--random-delay", type=int, default=0, metavar="SECONDS",
                        help="sleep a random time up to SECONDS first (spreads a fleet's runs; cron uses it)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="check, probe, write metrics and log lines; never renews")
    sub.add_parser("renew", help="like check, and renew the due issue_on: host certificates (mode renew)")
    status = sub.add_parser("status", help="show the certificates, what is served, the last run (read-only)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    reload = sub.add_parser("reload", help="reload the services of the named certificates and prove them")
    reload.add_argument("names", nargs="*")
    reload.add_argument("--changed", action="store_true",
                        help="only the services that serve another certificate than the one on disk")
    sub.add_parser("validate", help="validate the configuration file and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, out: t.TextIO = sys.stdout, err: t.TextIO = sys.stderr) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args: t.Any = _timer_args(argv) or _parse(argv)
    if args.random_delay > 0 and args.command in ("check", "renew"):
        import random

        time.sleep(random.uniform(0, args.random_delay))
    try:
        cfg = load_config(args.config, check_files=args.command != "validate")
        if args.command == "validate":
            out.write("certwatch: %s is valid (%d certificates, mode %s)\n"
                      % (args.config, len(cfg["certificates"]), cfg["mode"]))
            return EXIT_OK
        if args.now and args.command in ("renew", "reload"):
            raise ConfigError("--now is for check and status (what-if); renew and reload always act on the real time")
        if args.command == "renew" and cfg["mode"] != "renew":
            raise ConfigError("certwatch renew needs mode renew (certwatch_mode: renew); in report mode "
                              "renew.yml renews and the agent only checks")
        if args.command == "reload":
            return _reload_command(cfg, args.names, args.changed, engine.engine_policy(cfg["policy"]), err)
        code, results, summary = run(cfg, args.command, now=args.now, write=args.command != "status",
                                     out=out, err=err)
        if args.command == "status":
            if args.json:
                report = {"summary": summary, "exit_code": code,
                          "certificates": [r.log_record(cfg.get("host")) for r in results]}
                out.write(json.dumps(report, indent=1, sort_keys=True, default=str) + "\n")
            else:
                out.write(status_table(results, summary))
        return code
    except ConfigError as exc:
        err.write("certwatch: configuration error: %s\n" % exc)
        return EXIT_CONFIG
    except CertsError as exc:
        err.write("certwatch: %s\n" % exc)
        return EXIT_FAILED
