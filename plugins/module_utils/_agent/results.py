# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a certwatch run reports: per-certificate results, their log line, the metrics, the status table,
the exit code."""

from __future__ import annotations

import datetime as _dt
import typing as t

from .._time import iso, parse_duration
from . import metrics as _metrics

EXIT_OK = 0
EXIT_ATTENTION = 1
EXIT_FAILED = 2
EXIT_CONFIG = 3

# The engine's statuses (_policy.STATUSES) plus "missing", and its handshake error classes
# (_handshake.ERROR_CLASSES), spelled out here: importing those modules would pull dataclasses and
# cryptography into a run with nothing due (tests/unit/.../_agent/test_results.py keeps them equal).
STATUSES = ("ok", "due", "critical", "expired", "not_yet_valid", "invalid", "revoked", "missing")
ATTENTION = ("due", "critical", "expired", "not_yet_valid", "invalid", "revoked", "missing")
HANDSHAKE_ERRORS = ("refused", "timeout", "unreachable", "handshake_failure", "expired", "unknown_ca",
                    "hostname_mismatch")
FAIL_REASONS = ("issue", "install", "reload", "proof", "ghost")


class CertResult:
    """One certificate's result in a run.  A plain class: ``dataclasses`` would import ``inspect`` (and
    ``ast``, ``dis``) into every agent run."""

    __slots__ = ("ari", "description", "error", "failure", "name", "outcome", "path", "probes", "renewed", "status",
                 "unproved")

    def __init__(self, name: str, path: str, status: str, description: dict[str, t.Any] | None = None,
                 error: str | None = None, probes: list[dict[str, t.Any]] | None = None, outcome: str = "checked",
                 failure: str | None = None, renewed: bool = False) -> None:
        self.name = name
        self.path = path
        self.status = status
        self.description = description
        self.error = error
        self.probes: list[dict[str, t.Any]] = [] if probes is None else probes
        self.outcome = outcome
        self.failure = failure
        self.renewed = renewed
        self.unproved = False  # the store's current generation was never proved (no proved.json for it)
        self.ari: dict[str, t.Any] | None = None  # the CA's renewal window (renew mode, issue_on host)

    def __repr__(self) -> str:
        return "CertResult(%s)" % ", ".join("%s=%r" % (k, getattr(self, k)) for k in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CertResult):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    @property
    def fingerprint(self) -> str | None:
        return self.description["fingerprint_sha256"] if self.description else None

    @property
    def ghosts(self) -> list[dict[str, t.Any]]:
        return [p for p in self.probes if p.get("served_matches") is False]

    def log_record(self, host: str | None) -> dict[str, t.Any]:
        desc = self.description or {}
        served = [p.get("served_fingerprint") for p in self.probes]
        return {
            "event": "certwatch",
            "host": host,
            "cert_id": self.name,
            "path": self.path,
            "status": self.status,
            "outcome": self.outcome,
            "failure": self.failure,
            "renewal_time": desc.get("renew_at"),
            "next_expiry": desc.get("not_after"),
            "seconds_remaining": desc.get("seconds_remaining"),
            "fingerprint": self.fingerprint,
            "served_fingerprint": served[0] if len(served) == 1 else served,
            "ghost": bool(self.ghosts),
            "unproved": self.unproved,
            "ari": bool((self.ari or {}).get("due")),
            "probes": [{k: p.get(k) for k in ("endpoint", "served_fingerprint", "served_matches", "error",
                                              "handshake_ms", "attempts", "waited")} for p in self.probes],
            "error": self.error,
        }


def _cn(rfc4514: str | None) -> str:
    for part in (rfc4514 or "").split(","):
        if part.startswith("CN="):
            return part[3:]
    return ""


def _epoch(value: str) -> float:
    return _dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _counters_declare(counters: _metrics.Counters, cfg: dict[str, t.Any]) -> None:
    """Declare the counters of the configured certificates and endpoints (at 0), and forget the series of those that
    left the configuration: they would stay in the textfile forever (and alert) otherwise."""
    wanted: set[tuple[str, str, str | None]] = set()  # (metric, certificate, endpoint)
    for cert in cfg["certificates"]:
        for ep in cert["probes"]:
            endpoint = "%s:%s" % (ep["host"], ep.get("port", 443))
            wanted.add(("ghostguard_tls_handshake_errors_total", cert["name"], endpoint))
            for error in HANDSHAKE_ERRORS:
                counters.declare("ghostguard_tls_handshake_errors_total",
                                 "TLS handshakes to a probe endpoint that failed, by error class",
                                 name=cert["name"], endpoint=endpoint, error=error)
        if cert["issue_on"] == "host" and cfg["mode"] == "renew":
            wanted.update((metric, cert["name"], None) for metric in
                          ("ghostguard_renewal_attempts_total", "ghostguard_renewal_attempts_failed_total"))
            counters.declare("ghostguard_renewal_attempts_total", "Renewals the agent started",
                             name=cert["name"])
            for reason in FAIL_REASONS:
                counters.declare("ghostguard_renewal_attempts_failed_total",
                                 "Renewals that failed, by the step that failed (issue, install, reload, proof; "
                                 "ghost: a service that watches its files never served the new certificate)",
                                 name=cert["name"], reason=reason)
    counters.retain(lambda metric, labels: (metric, labels.get("name", ""), labels.get("endpoint")) in wanted)


def _cert_gauges(reg: _metrics.Registry) -> dict[str, _metrics.Family]:
    """Declare the per-certificate gauges, in the textfile's order."""
    return {
        "not_after": reg.gauge("ghostguard_cert_not_after_timestamp_seconds", "Certificate notAfter (Unix time)"),
        "not_before": reg.gauge("ghostguard_cert_not_before_timestamp_seconds", "Certificate notBefore (Unix time)"),
        "renew_at": reg.gauge("ghostguard_cert_renew_at_timestamp_seconds",
                              "When the renewal policy makes the certificate due (Unix time)"),
        "expires": reg.gauge("ghostguard_cert_expires_seconds", "Seconds left before the certificate expires"),
        "status": reg.gauge("ghostguard_cert_status", "1 for the certificate's current status, 0 for the others"),
        "served": reg.gauge("ghostguard_cert_served_matches",
                            "1 when the probe endpoint serves the certificate on disk, 0 when it serves another (a ghost)"),
        "reached": reg.gauge("ghostguard_cert_probe_success",
                             "1 when the last handshake with the probe endpoint succeeded, 0 when it failed (error class "
                             "in ghostguard_tls_handshake_errors_total)"),
        "lifecycle": reg.gauge("ghostguard_cert_lifecycle_state",
                               "1 when the certificate is in the lifecycle state (ghost: served another certificate than "
                               "its files; ari: the CA's renewal window is open; unproved: installed, never proved), "
                               "else 0"),
        "unchecked": reg.gauge("ghostguard_cert_revocation_check_error",
                               "1 when the certificate's revocation could not be checked (OCSP or CRL unreachable or "
                               "untrusted; not a revocation), else 0"),
    }


def _cert_metrics(fams: dict[str, _metrics.Family], res: CertResult) -> None:
    """One certificate's series: lifecycle states, its dates, revocation check, status, then each probe."""
    for state, active in (("ghost", bool(res.ghosts)), ("ari", bool((res.ari or {}).get("due"))),
                          ("unproved", res.unproved)):
        fams["lifecycle"].set(1 if active else 0, name=res.name, filepath=res.path, state=state)
    desc = res.description or {}
    labels = {
        "name": res.name,
        "filepath": res.path,
        "subject_CN": _cn(desc.get("subject")),
        "issuer_CN": _cn(desc.get("issuer")),
        "serial_number": desc.get("serial") or "",
    }
    if desc:
        for key, field in (("not_after", "not_after"), ("not_before", "not_before"), ("renew_at", "renew_at")):
            fams[key].set(_epoch(desc[field]), **labels)
        fams["expires"].set(desc["seconds_remaining"], **labels)
        if "revocation" in desc:
            fams["unchecked"].set(1 if desc.get("revocation_error") else 0, name=res.name, filepath=res.path)
    for value in STATUSES:
        fams["status"].set(1 if res.status == value else 0, name=res.name, filepath=res.path, status=value)
    for probe in res.probes:
        where = {"name": res.name, "filepath": res.path, "endpoint": probe["endpoint"],
                 "server_name": probe["server_name"]}
        fams["reached"].set(0 if probe["error"] else 1, **where)
        if probe["served_matches"] is not None:
            fams["served"].set(1 if probe["served_matches"] else 0, **where)


def _clock_metrics(reg: _metrics.Registry, clock: dict[str, t.Any]) -> None:
    """The kernel clock's state (adjtimex), each gauge only when the clock reports it."""
    if clock.get("synchronized") is not None:
        reg.gauge("ghostguard_clock_synchronized", "1 when the kernel clock is synchronised (adjtimex)").set(
            1 if clock["synchronized"] else 0)
    if clock.get("estimated_error_seconds") is not None:
        reg.gauge("ghostguard_clock_offset_seconds",
                  "Estimated offset of the kernel clock (adjtimex esterror), seconds").set(clock["estimated_error_seconds"])
    if clock.get("max_error_seconds") is not None:
        reg.gauge("ghostguard_clock_max_error_seconds",
                  "Maximum error of the kernel clock (adjtimex maxerror), seconds").set(clock["max_error_seconds"])


def _agent_metrics(reg: _metrics.Registry, cfg: dict[str, t.Any]) -> None:
    """The agent's own settings: the policy's leeway, the schedule (when the role wrote one), mode and host."""
    leeway = (cfg.get("policy") or {}).get("leeway")
    reg.gauge("ghostguard_policy_leeway_seconds", "The renewal policy's clock-skew allowance (leeway), seconds").set(
        parse_duration(leeway, "leeway") if leeway not in (None, "") else 0)
    schedule = cfg.get("schedule") or {}
    if schedule.get("interval"):  # the silent-agent alert's threshold derives from them (certwatch-alerts.yml)
        reg.gauge("ghostguard_agent_interval_seconds",
                  "Seconds between the agent's scheduled runs (certwatch_interval)").set(schedule["interval"])
        reg.gauge("ghostguard_agent_randomized_delay_seconds",
                  "Random delay added to each scheduled run, seconds (certwatch_randomized_delay)").set(
            schedule.get("randomized_delay") or 0)
    agent = reg.gauge("ghostguard_agent_info", "The agent's mode and host (value always 1)")
    agent.set(1, mode=cfg["mode"], host=cfg.get("host") or "")


def build_metrics(cfg: dict[str, t.Any], results: list[CertResult], counters: _metrics.Counters,
                  clock: dict[str, t.Any], last_run: float, last_success: float | None) -> str:
    """The run's Prometheus textfile: each certificate's series, the counters, the run, the clock, the agent."""
    reg = _metrics.Registry()
    fams = _cert_gauges(reg)
    for res in results:
        _cert_metrics(fams, res)
    counters.add_to(reg)
    reg.gauge("ghostguard_last_run_timestamp_seconds", "End of the agent's last run (Unix time)").set(last_run)
    if last_success is not None:
        reg.gauge("ghostguard_last_success_timestamp_seconds",
                  "End of the agent's last run in which no renewal, install, reload or proof failed").set(last_success)
    _clock_metrics(reg, clock)
    _agent_metrics(reg, cfg)
    return reg.render()


def exit_code(results: list[CertResult]) -> int:
    if any(r.failure for r in results):
        return EXIT_FAILED
    if any(r.status in ATTENTION or r.ghosts or any(p["error"] for p in r.probes) for r in results):
        return EXIT_ATTENTION
    return EXIT_OK


def _left(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return "%s%dd%02dh" % (sign, days, hours)
    return "%s%dh%02dm" % (sign, hours, rest // 60)


def _served(res: CertResult) -> str:
    if not res.probes:
        return "no probe"
    parts = []
    for p in res.probes:
        if p["served_matches"] is True:
            parts.append("ok")
        elif p["served_matches"] is False:
            parts.append("GHOST %s" % (p["served_fingerprint"] or "")[:11])
        else:
            parts.append(p["error"] or "?")
    return ",".join(parts)


def status_table(results: list[CertResult], summary: dict[str, t.Any]) -> str:
    header = ("NAME", "STATUS", "LEFT", "RENEW AT", "SERVED", "LAST RUN OUTCOME")
    rows = [header]
    outcomes = summary.get("last_outcomes") or {}
    for res in results:
        desc = res.description or {}
        rows.append((res.name, res.status, _left(desc.get("seconds_remaining")), desc.get("renew_at") or "-",
                     _served(res), outcomes.get(res.name) or "-"))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    last = summary.get("last_run")
    clock = summary.get("clock") or {}
    lines.append("")
    lines.append("mode %s; last run %s; last success %s; clock %s" % (
        summary["mode"],
        iso(_dt.datetime.fromtimestamp(last, _dt.timezone.utc)) if last else "never",
        iso(_dt.datetime.fromtimestamp(summary["last_success"], _dt.timezone.utc)) if summary.get("last_success") else "never",
        {True: "synchronised", False: "NOT synchronised", None: "unknown"}[clock.get("synchronized")],
    ))
    for res in results:
        if res.error:
            lines.append("%s: %s" % (res.name, res.error))
        for p in res.ghosts:
            lines.append("%s: %s serves %s, the file holds %s: reload the service" % (
                res.name, p["endpoint"], p["served_fingerprint"], res.fingerprint))
    return "\n".join(lines) + "\n"
