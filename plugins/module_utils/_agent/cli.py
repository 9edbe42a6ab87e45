# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch command line beyond the timer's own (argparse), and the ``reload`` commands.

argparse exits 2 on a usage error, which the agent's table reserves for a failed renewal: here a usage error
exits 3 (configuration or usage error, nothing done), like a bad configuration.  Not imported by a timer run.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing as t

from .._install.reload import reload as reload_service
from . import engine
from .config import DEFAULT_CONFIG, ConfigError
from .results import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, CertResult

EPILOG = ("exit codes: 0 all fine; 1 something due, critical, expired, invalid, missing, a ghost or a probe error "
          "(not a failure of the systemd unit); 2 a renewal, install, reload or proof failed, or the run could not "
          "finish; 3 configuration or usage error (nothing done)")


class _Parser(argparse.ArgumentParser):
    """argparse with the agent's exit code for a usage error (3), and the next step in the message."""

    def error(self, message: str) -> t.NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_CONFIG, "%s: usage error: %s; see '%s --help'\n" % (self.prog, message, self.prog.split()[0]))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(
        prog="certwatch",
        description="ghostguard certificate agent: check, renew and prove the certificates of this host.",
        epilog=EPILOG,
    )
    parser.add_argument("--config", default=os.environ.get("CERTWATCH_CONFIG", DEFAULT_CONFIG))
    parser.add_argument("--now", help="ISO 8601 time to evaluate at: a what-if that writes nothing (check and status)")
    parser.add_argument("--random-delay", type=int, default=0, metavar="SECONDS",
                        help="sleep a random time up to SECONDS first (spreads a fleet's runs; cron uses it)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="check, probe, write metrics and log lines; never renews (with --now: writes nothing)")
    sub.add_parser("renew", help="like check, and renew the due issue_on: host certificates (mode renew)")
    status = sub.add_parser("status", help="show the certificates, what is served, the last run (read-only)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    reload = sub.add_parser("reload", help="reload the services of the named certificates, prove them, then write "
                                           "metrics and state")
    reload.add_argument("names", nargs="*")
    reload.add_argument("--changed", action="store_true",
                        help="only the services that serve another certificate than the one on disk")
    sub.add_parser("validate", help="validate the configuration file and exit")
    return parser.parse_args(argv)


def reload_command(cfg: dict[str, t.Any], names: list[str], changed: bool,
                   err: t.TextIO) -> tuple[int, dict[str, str]]:
    """Reload (and prove) the services of *names* (every certificate when empty); with *changed* only those that
    serve another certificate than their files.  Returns the exit code and the outcome of each repaired one."""
    unknown = sorted(set(names) - {c["name"] for c in cfg["certificates"]})
    if unknown:
        raise ConfigError("no certificate named %s in the configuration" % ", ".join(unknown))
    chosen = [c for c in cfg["certificates"] if not names or c["name"] in names]
    if changed:  # only what serves another certificate than its files (and prove an unproved generation)
        return _reload_changed(cfg, chosen, err)
    policy = engine.engine_policy(cfg["policy"])
    observed = engine.engine_observe(chosen, policy, False, cfg.get("state_dir"))
    code = EXIT_OK
    for cert, obs in zip(chosen, observed):
        res = CertResult(obs["name"], obs["path"], obs["status"], description=obs["description"])
        error = reload_service(cert)
        if error is None and cert["probes"]:
            res.probes = engine.engine_prove(cfg, cert, res.fingerprint)
            if res.ghosts or any(p["served_matches"] is not True for p in res.probes):
                error = "after the reload %s still does not serve %s" % (cert["name"], res.fingerprint)
        err.write("certwatch: %s: %s\n" % (cert["name"], error or "reloaded"))
        if error is not None:
            code = EXIT_FAILED
    return code, {}


def _reload_changed(cfg: dict[str, t.Any], chosen: list[dict[str, t.Any]],
                    err: t.TextIO) -> tuple[int, dict[str, str]]:
    code = EXIT_OK
    repaired = {}

    def log(line: str) -> None:
        err.write(line + "\n")

    outs = engine.engine_converge(cfg, chosen, {}, log) if chosen else []
    for out in outs:
        if out["outcome"] == "unchanged":
            continue
        err.write("certwatch: %s: %s\n" % (out["name"], "reloaded" if out["outcome"] == "repaired" else out["reason"]))
        if out["outcome"] == "repaired":
            repaired[out["name"]] = "repaired"
        if out["outcome"] in ("failed", "rolled_back"):
            code = EXIT_FAILED
    return code, repaired
