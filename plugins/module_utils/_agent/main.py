# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch host agent: ``certwatch check | renew | status | reload | validate``.

Installed by the ``ghostguard.certs.certwatch`` role into a venv on each host and run by
``certwatch.timer`` (or cron).  Plain Python, no Ansible import.

Exit codes (documented in the README, ``certwatch --help`` and the role; the systemd unit's
``SuccessExitStatus`` lists the codes that are not a failure of the unit: 0 and 1):

== =======================================================================================
0  every certificate is fine and every service serves the certificate on disk
1  something needs attention: a certificate is due, critical, expired, not yet valid,
   invalid or missing, a service serves another certificate (a ghost), or a probe failed
   (metrics and alerts report it: not a failure of the unit)
2  a renewal, installation, reload or proof failed (a failed proof was rolled back), or the
   run could not finish (another run held the lock, a file could not be written)
3  configuration or usage error (the configuration, the command line, a directory the agent
   cannot create or write): nothing was done; the message names the problem and the fix
== =======================================================================================

Each run writes one JSON line per certificate to standard output (the journal under systemd),
a Prometheus textfile, and its state (counters, last run) under ``state_dir``.  Nothing due means
no ACME or DNS library is imported and no network is used but the probes.  ``--now`` (a what-if)
writes nothing: no textfile, no state, no proof, nothing installed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
import typing as t

from .._errors import CertsError
from . import engine
from . import metrics as _metrics
from .config import ConfigError, load_config, load_secrets
from .fast import _memo_results, _plain_handshake, _remember, _timer_args
from .results import (
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

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_OK", "main", "run"]


def _describe_all(cfg: dict[str, t.Any], policy: t.Any, probe: bool = False) -> list[CertResult]:
    """Every certificate through the engine's observation (files, store, and with *probe* the endpoints)."""
    return [_result(o) for o in engine.engine_observe(cfg["certificates"], policy, probe, cfg.get("state_dir"))]


def _result(obs: dict[str, t.Any]) -> CertResult:
    res = CertResult(obs["name"], obs["path"], obs["status"], description=obs["description"], error=obs["error"],
                     probes=obs["probes"])
    res.unproved = bool(obs["unproved"])
    return res


def _probe(cert: dict[str, t.Any], result: CertResult) -> None:
    """Probe every endpoint: one plain handshake each when it serves the file's certificate, else the engine."""
    endpoints = [{"timeout": 5.0, **ep} for ep in cert["probes"]]
    expected = result.fingerprint
    plain = [] if expected is None else [_plain_handshake(ep, expected) for ep in endpoints]
    found = [p for p in plain if p is not None]
    if plain and len(found) == len(plain):  # the keys of _observe.probe_entry (a test keeps them equal)
        result.probes = [{"endpoint": "%s:%s" % (ep["host"], ep.get("port", 443)),
                          "server_name": ep.get("server_name") or ep["host"], "served_fingerprint": expected,
                          "served_matches": True, "error": None, "error_message": None,
                          "handshake_ms": res["handshake_ms"], "attempts": 1, "waited": 0.0}
                         for ep, res in zip(endpoints, found)]
    else:
        result.probes = engine.engine_probe(cert, expected) if endpoints else []


def _writable(cfg: dict[str, t.Any]) -> None:
    """Before a run that writes: the state directory exists (created 0700) and both directories are writable.
    Otherwise a configuration error naming the path, the reason and the fix; nothing was done."""
    state_dir, metrics_dir = cfg["state_dir"], cfg["metrics_dir"]
    try:
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ConfigError("state_dir %s cannot be created (%s); create it (mode 0700, writable by the agent) or set "
                          "state_dir (certwatch_state_dir) to a writable place" % (state_dir, exc.strerror or exc)) from None
    if not os.path.isdir(metrics_dir):
        raise ConfigError("metrics_dir %s does not exist; create it (the node exporter's textfile directory) or set "
                          "metrics_dir (certwatch_metrics_dir)" % metrics_dir)
    for key, path in (("state_dir", state_dir), ("metrics_dir", metrics_dir)):
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError("%s %s is not writable by this user; run certwatch as root (as the timer does) or make it "
                              "writable" % (key, path))


@contextlib.contextmanager
def _locked(cfg: dict[str, t.Any]) -> t.Iterator[None]:
    _writable(cfg)
    state_dir = cfg["state_dir"]
    try:
        fd = os.open(os.path.join(state_dir, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError("state_dir %s: cannot open its lock file (%s); make the directory writable or set state_dir "
                          "(certwatch_state_dir)" % (state_dir, exc.strerror or exc)) from None
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


def _ari(cfg: dict[str, t.Any], results: list[CertResult], log: t.Callable[[str], None]) -> dict[str, dict[str, t.Any]]:
    """The CA's renewal windows of the certificates this host orders itself (renew mode); a CA that does not
    answer leaves them to the local policy, with a warning."""
    paths = {c["name"]: r.path for c, r in zip(cfg["certificates"], results)
             if c["issue_on"] == "host" and r.status not in ("missing", "invalid")}
    try:
        windows = engine.engine_ari(cfg, paths)
    except CertsError as exc:
        log("certwatch: ARI unavailable (%s); the local policy decides" % exc)
        return {}
    for name, window in windows.items():
        if window.get("error") and not window.get("cached"):
            log("certwatch: %s: ARI unavailable (%s); the local policy decides" % (name, window["error"]))
    return windows


def _renew(cfg: dict[str, t.Any], cert: dict[str, t.Any], res: CertResult, counters: _metrics.Counters,
           secrets: dict[str, t.Any], policy: t.Any, log: t.Callable[[str], None]) -> None:
    """Order a new certificate, then converge: install, reload, prove, roll back on a failed proof."""
    counters.inc("ghostguard_renewal_attempts_total", name=cert["name"])
    old_fingerprint = res.fingerprint
    step = "issue"
    try:
        # inside the CA's ARI window the order names the certificate it replaces (exempt from rate limits)
        replaces = (res.ari or {}).get("cert_id") if (res.ari or {}).get("due") else None
        bundle = engine.engine_issue(cert, cfg, secrets, replaces=replaces,
                                     replaces_directory=(res.ari or {}).get("directory"), log=log)
        step = "install"
        out = engine.engine_converge(cfg, [cert], {cert["name"]: bundle}, log)[0]
    except CertsError as exc:
        counters.inc("ghostguard_renewal_attempts_failed_total", name=cert["name"], reason=step)
        res.outcome, res.failure, res.error = "renewal_failed", step, str(exc)
        log("certwatch: %s: renewal failed at %s: %s" % (cert["name"], step, exc))
        return
    _converged(cfg, cert, res, out, policy)
    if out["outcome"] == "renewed":
        res.outcome, res.renewed = "renewed", True
        log("certwatch: %s: renewed, serves %s" % (cert["name"], res.fingerprint))
        return
    failure = out.get("failure") or "install"
    counters.inc("ghostguard_renewal_attempts_failed_total", name=cert["name"], reason=failure)
    res.failure, res.error = failure, out["reason"]
    if out["outcome"] == "rolled_back":
        res.outcome = "rolled_back" if old_fingerprint in (None, res.fingerprint) else "rollback_incomplete"
    elif "rollback impossible" in (out["reason"] or ""):
        res.outcome = "rollback_failed"
    else:
        res.outcome = "renewal_failed"


def _converged(cfg: dict[str, t.Any], cert: dict[str, t.Any], res: CertResult, out: dict[str, t.Any],
               policy: t.Any) -> None:
    """Update *res* from a converge outcome: the files as they are now, what the probes served last.  The files are
    described at the time they are now (not the run's start: a certificate issued during a long run, the 6th of a
    drill, is not "not yet valid")."""
    if out["fingerprint"] != res.fingerprint or out["outcome"] in ("renewed", "rolled_back"):
        policy = engine.engine_policy(cfg["policy"])
        fresh = _describe_all({**cfg, "certificates": [cert]}, policy)[0]
        res.description, res.status, res.error = fresh.description, fresh.status, fresh.error
    res.probes = out["probes"] if cert["probes"] else []
    res.unproved = out["proved"] is not True and bool(cert["probes"])


def _repair(cfg: dict[str, t.Any], cert: dict[str, t.Any], res: CertResult, policy: t.Any,
            log: t.Callable[[str], None]) -> None:
    """A ghost (or an unproved generation) of a certificate that is not due: reload what is stale and prove."""
    was_ghost = bool(res.ghosts)
    try:
        out = engine.engine_converge(cfg, [cert], {}, log)[0]
    except CertsError as exc:
        res.outcome, res.failure, res.error = "ghost", "reload", str(exc)
        return
    _converged(cfg, cert, res, out, policy)
    if out["outcome"] == "repaired":
        res.outcome = "repaired"
        log("certwatch: %s: repaired, serves %s" % (cert["name"], res.fingerprint))
    elif out["outcome"] == "failed":
        res.outcome, res.failure, res.error = "ghost" if was_ghost else "checked", out.get("failure") or "proof", \
            out["reason"]


def run(cfg: dict[str, t.Any], command: str, now: str | None = None, write: bool = True,
        out: t.TextIO = sys.stdout, err: t.TextIO = sys.stderr,
        emit: bool | None = None) -> tuple[int, list[CertResult], dict[str, t.Any]]:
    """One agent run; returns (exit code, per-certificate results, run summary).

    *write* writes the live results (textfile, state, counters, a proof) under the agent's lock; a what-if (*now*)
    never does.  *emit* (default *write*) prints one JSON line per certificate.
    """
    write = write and now is None
    with _locked(cfg) if write else contextlib.nullcontext():
        return _run(cfg, command, now, write, out, err, write if emit is None else emit, {})


class _Lazy:
    """The policy and the secrets of one run, loaded when a certificate first needs them (once)."""

    def __init__(self, cfg: dict[str, t.Any], policy: t.Any) -> None:
        self.cfg = cfg
        self.policy = policy
        self._secrets: dict[str, t.Any] | None = None

    def get_policy(self) -> t.Any:
        """The run's policy, built now (at the real time) if the observation did not build one."""
        self.policy = self.policy or engine.engine_policy(self.cfg["policy"])
        return self.policy

    def secrets(self) -> dict[str, t.Any]:
        """The secrets, read at the first renewal of the run."""
        if self._secrets is None:
            self._secrets = load_secrets(self.cfg)
        return self._secrets


def _run(cfg: dict[str, t.Any], command: str, now: str | None, write: bool, out: t.TextIO, err: t.TextIO,
         emit: bool, outcomes: dict[str, str]) -> tuple[int, list[CertResult], dict[str, t.Any]]:
    """The phases of one run: counters, observe, act on each certificate, record."""
    state_dir = cfg["state_dir"]

    def log(message: str) -> None:
        err.write(message + "\n")

    counters = _open_counters(cfg, state_dir, write, log)
    results, observed, policy = _observe_all(cfg, now)
    lazy = _Lazy(cfg, policy)
    renewing = command == "renew" and cfg["mode"] == "renew"
    ari = _ari(cfg, results, log) if renewing else {}
    for cert, res in zip(cfg["certificates"], results):
        if not observed:
            _probe(cert, res)
        res.ari = ari.get(cert["name"])
        _act(cfg, cert, res, renewing, write, counters, lazy, log)
        _settle(res, outcomes, counters)
    if observed and write and not now:
        _remember(cfg, results, lazy.policy)
    return _record(cfg, command, state_dir, results, counters, write, emit, out)


def _open_counters(cfg: dict[str, t.Any], state_dir: str, write: bool,
                   log: t.Callable[[str], None]) -> _metrics.Counters:
    """The run's counters (persisted under *state_dir* when it writes), every series declared."""
    counters = _metrics.Counters(os.path.join(state_dir, "counters.json") if write else None)
    if counters.load_error:
        log("certwatch: " + counters.load_error)
    _counters_declare(counters, cfg)
    return counters


def _observe_all(cfg: dict[str, t.Any], now: str | None) -> tuple[list[CertResult], bool, t.Any]:
    """The results to act on: the memo of the fast path, else (or for a what-if) a full observation with probes.
    Returns (results, observed, the policy of the observation or None)."""
    results = None if now else _memo_results(cfg)
    if results is not None:
        return results, False, None
    policy = engine.engine_policy(cfg["policy"], now)
    return _describe_all(cfg, policy, probe=True), True, policy


def _act(cfg: dict[str, t.Any], cert: dict[str, t.Any], res: CertResult, renewing: bool, write: bool,
         counters: _metrics.Counters, lazy: _Lazy, log: t.Callable[[str], None]) -> None:
    """What the run does for one certificate: renew it, repair a ghost, report a ghost, or record a proof."""
    due = res.status in ATTENTION or bool((res.description or {}).get("due")) or bool((res.ari or {}).get("due"))
    if renewing and cert["issue_on"] == "host" and due:
        secrets = lazy.secrets()
        _renew(cfg, cert, res, counters, secrets, lazy.get_policy(), log)
    elif renewing and (res.ghosts or res.unproved):
        _repair(cfg, cert, res, lazy.get_policy(), log)
    elif res.ghosts:
        res.outcome = "ghost"
    elif write and res.unproved and res.probes and all(p["served_matches"] is True for p in res.probes):
        engine.engine_record_proof(cert)  # what every probe serves is the files: that is the proof
        res.unproved = False


def _settle(res: CertResult, outcomes: dict[str, str], counters: _metrics.Counters) -> None:
    """After acting: the outcome of the command before this run, and the count of each probe's handshake error."""
    if res.outcome == "checked" and res.name in outcomes:
        res.outcome = outcomes[res.name]  # what the command before this run did (reload --changed: repaired)
    for probe in res.probes:
        if probe["error"]:
            counters.inc("ghostguard_tls_handshake_errors_total", name=res.name, endpoint=probe["endpoint"],
                         error=probe["error"])


def _record(cfg: dict[str, t.Any], command: str, state_dir: str, results: list[CertResult],
            counters: _metrics.Counters, write: bool, emit: bool,
            out: t.TextIO) -> tuple[int, list[CertResult], dict[str, t.Any]]:
    """The end of a run: its summary, the JSON lines, and (when it writes) the textfile, counters and state."""
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
    if emit:
        for res in results:
            out.write(json.dumps(res.log_record(cfg.get("host")), sort_keys=True) + "\n")
            out.flush()
    if write:
        _write_run(cfg, state_dir, results, counters, summary, clock)
    else:
        summary["last_run"] = state.get("finished")
        summary["last_outcomes"] = {k: v.get("outcome") for k, v in (state.get("certificates") or {}).items()}
    return exit_code(results), results, summary


def _write_run(cfg: dict[str, t.Any], state_dir: str, results: list[CertResult], counters: _metrics.Counters,
               summary: dict[str, t.Any], clock: dict[str, t.Any]) -> None:
    """Write what a live run found: the Prometheus textfile, the counters, then the state (last-run.json)."""
    text = build_metrics(cfg, results, counters, clock, summary["finished"], summary["last_success"])
    _metrics.write_textfile(cfg["metrics_dir"], cfg["metrics_name"], text)
    counters.save()
    state_data = {**summary, "certificates": {r.name: r.log_record(cfg.get("host")) for r in results}}
    from .._durable import write_atomic

    write_atomic(os.path.join(state_dir, "last-run.json"),
                 (json.dumps(state_data, indent=1, sort_keys=True) + "\n").encode(), 0o600, durable=False)


def main(argv: list[str] | None = None, out: t.TextIO = sys.stdout, err: t.TextIO = sys.stderr) -> int:
    """The ``certwatch`` command; returns its exit code (the table above), whatever goes wrong."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args: t.Any = _timer_args(argv)
        if args is None:
            from .cli import parse

            args = parse(argv)  # a usage error exits EXIT_CONFIG, --help 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_CONFIG
    if args.random_delay > 0 and args.command in ("check", "renew"):
        import random

        time.sleep(random.uniform(0, args.random_delay))
    try:
        return _command(args, out, err)
    except ConfigError as exc:
        err.write("certwatch: configuration error: %s\n" % exc)
        return EXIT_CONFIG
    except CertsError as exc:
        err.write("certwatch: %s\n" % exc)
        return EXIT_FAILED
    except OSError as exc:  # a file the run could not read or write: one line, not a traceback
        where = " %s" % exc.filename if exc.filename else ""
        err.write("certwatch: the run failed:%s: %s\n" % (where, exc.strerror or exc))
        return EXIT_FAILED


def _command(args: t.Any, out: t.TextIO, err: t.TextIO) -> int:
    cfg = load_config(args.config, check_files=args.command != "validate")
    if args.command == "validate":
        out.write("certwatch: %s is valid (%d certificates, mode %s)\n"
                  % (args.config, len(cfg["certificates"]), cfg["mode"]))
        return EXIT_OK
    if args.now and args.command in ("renew", "reload"):
        raise ConfigError("--now is for check and status (what-if); renew and reload always act on the real time")
    if args.now:
        try:
            engine.engine_policy(cfg["policy"], args.now)
        except CertsError as exc:
            raise ConfigError("--now %s: %s; give an ISO 8601 time such as 2027-01-01T00:00:00Z" % (args.now, exc)) from None
    if args.command == "renew" and cfg["mode"] != "renew":
        raise ConfigError("certwatch renew needs mode renew (certwatch_mode: renew); in report mode "
                          "renew.yml renews and the agent only checks")
    if args.command == "reload":
        from .cli import reload_command

        with _locked(cfg):  # no timer run in between; then one run, so metrics and state show the result at once
            code, outcomes = reload_command(cfg, args.names, args.changed, err)
            _run(cfg, "check", None, True, out, err, True, outcomes)
        return code
    code, results, summary = run(cfg, args.command, now=args.now, write=args.command != "status",
                                 out=out, err=err, emit=args.command != "status")
    if args.command == "status":
        if args.json:
            report = {"summary": summary, "exit_code": code,
                      "certificates": [r.log_record(cfg.get("host")) for r in results]}
            out.write(json.dumps(report, indent=1, sort_keys=True, default=str) + "\n")
        else:
            out.write(status_table(results, summary))
    return code
