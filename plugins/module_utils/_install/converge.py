# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Converge the certificates of one host: install what was issued, reload what serves another certificate
than its files, prove by handshake, roll back.  Used by the ``converge`` module (renew.yml, rollback.yml)
and the certwatch agent.

Per certificate, in order: (1) install the bundle when it is newer than the files (or, with ``target``
``previous``, ``older`` or ``newer``, roll back or forward through the generation store: see
:func:`_requested`); (2) reload when a probe serves another
certificate than the files (nothing is reloaded when every probe already serves them; ``reload: {watch:
true}`` sends nothing and is waited for with growing waits); (3) prove: every probe serves the files'
fingerprint, recorded in the store (``proved.json``); (4) when the reload or the proof of an install fails,
roll back, reload and prove the previous generation.

Idempotent and resumable: each step is decided from what is observed, never from what a run meant to do,
so a run stopped anywhere is finished by the next one with the same bundles.  A rollback writes its intent
(``<store>/rollback.json``: from which generation, which way) before it starts, so an interrupted
rollback is finished, not repeated; the generation it leaves is kept for a roll forward (:mod:`.rollback`).
Plain Python, no Ansible import.
"""

from __future__ import annotations

import time
import typing as t

from .. import _time, _x509
from .._errors import CertsError
from .._fleet import inventory as _inventory
from . import reload as _reload
from .converge_bundles import bundle_from_options, discard_staging
from .observe import (
    PENDING,
    complete,
    describe_files,
    endpoints,
    mark_proved,
    observe,
    policy_of,
    probe_cert,
    read_json,
    store_state,
    targets,
    write_json,
)

__all__ = ["OUTCOMES", "PROVE_DEFAULTS", "bundle_from_options", "converge", "discard_staging", "observe", "prove_served",
           "record_proof", "summary"]

PROVE_DEFAULTS = _inventory.PROVE_DEFAULTS
FIRST_WAIT = 0.05  # the first wait of a proof after a reload (then doubling up to retry_delay)
OUTCOMES = ("renewed", "unchanged", "repaired", "rolled_back", "rolled_forward", "failed", "stopped", "skipped",
            "deferred")
TARGETS = ("newest", "previous", "older", "newer")


class _Run:
    """One certificate's convergence: its settings, what was observed first, and the outcome being built."""

    def __init__(self, cert: t.Mapping[str, t.Any], bundle: t.Any, opts: dict[str, t.Any]) -> None:
        self.cert, self.bundle, self.opts = cert, bundle, opts
        self.obs = observe([cert], opts["policy"], ari=False)[0]
        self.timings = {"install": 0.0, "reload": 0.0, "proof": 0.0}
        self.out: dict[str, t.Any] = {
            "name": cert["name"], "outcome": "unchanged", "reason": None, "fingerprint": self.obs["fingerprint"],
            "not_after": (self.obs["description"] or {}).get("not_after"), "generation": self.obs["generation"],
            "proved": None, "reload": _reload.kind(cert), "reloaded": False, "attempted_fingerprint": None,
            "previous_served": None, "states": list(self.obs["states"]), "timings": self.timings,
            "probes": self.obs["probes"], "failure": None, "from_generation": None, "from_not_after": None,
            "started_at": _time.stamp(time.time()), "finished_at": None,
        }

    def log(self, message: str) -> None:
        self.opts["log"]("%s: %s" % (self.cert["name"], message))

    def refresh(self) -> None:
        """Re-read the files (after an install or a rollback); the probes are left to the caller."""
        entry = complete(self.cert, describe_files([self.cert], self.opts["policy"])[0], [], ari=False)
        self.out.update(fingerprint=entry["fingerprint"], generation=entry["generation"],
                        not_after=(entry["description"] or {}).get("not_after"))

    def finish(self, outcome: str, reason: str | None = None, **extra: t.Any) -> dict[str, t.Any]:
        self.out.update(outcome=outcome, reason=reason, finished_at=_time.stamp(time.time()), **extra)
        self.timings.update({k: round(v, 3) for k, v in self.timings.items()})
        return self.out


def _timed(run: _Run, step: str, func: t.Callable[[], t.Any]) -> t.Any:
    started = time.monotonic()
    try:
        return func()
    finally:
        run.timings[step] += time.monotonic() - started


# --------------------------------------------------------------------------- steps


def _bundle_fingerprint(bundle: t.Any) -> str | None:
    return None if bundle is None else _x509.fingerprint(bundle.cert)


def _newer(run: _Run) -> bool:
    """Install when the bundle is not the files' certificate and was issued after it or does not expire before it
    (a certificate of a shorter profile, 6 days after 90, replaces the one it renews; an older one never)."""
    if run.bundle is None or _bundle_fingerprint(run.bundle) == run.obs["fingerprint"]:
        return False
    desc = run.obs["description"]
    if not desc:
        return True
    return _x509.iso(_x509.not_after(run.bundle.cert)) >= desc["not_after"] or \
        _x509.iso(_x509.not_before(run.bundle.cert)) > str(desc.get("not_before") or "")


def _install(run: _Run) -> None:
    from .deploy import DeployRequest, deploy
    from .store import resolve_attrs

    cert = run.cert
    request = DeployRequest(targets=targets(cert), bundle=run.bundle, keep=int(cert.get("keep") or 3),
                            attrs=resolve_attrs(cert.get("owner"), cert.get("group"), cert.get("mode")),
                            in_place=bool(cert.get("in_place")))
    _timed(run, "install", lambda: deploy(request))
    run.refresh()
    run.log("installed generation %s (%s)" % (run.out["generation"], run.out["fingerprint"]))


def _reload_service(run: _Run) -> str | None:
    """Reload (nothing is sent for ``watch``); an error message or None."""
    error = _timed(run, "reload", lambda: run.opts["reloader"](run.cert))
    run.out["reloaded"] = error is None and run.out["reload"] not in ("none", "watch")
    run.log("reload failed: %s" % error if error else "reload (%s) done" % run.out["reload"])
    return t.cast("str | None", error)


def waits(cert: t.Mapping[str, t.Any], prove: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The proof's waits for *cert*. After a signal, systemd or command reload: short at first (a service
    reloads in tens of milliseconds: 0.05 s, doubling) and then ``retry_delay`` each; for a service that
    watches its files, the ``watch_*`` backoff."""
    if _reload.watches(cert):
        return {"retries": int(prove["watch_retries"]), "delay": float(prove["watch_retry_delay"]),
                "backoff": float(prove["watch_backoff"]), "max_delay": float(prove["watch_max_delay"])}
    delay = float(prove["retry_delay"])
    return {"retries": int(prove["retries"]), "delay": min(FIRST_WAIT, delay), "backoff": 2.0, "max_delay": delay}


def prove_served(cert: t.Mapping[str, t.Any], expected: str | None,
                 prove: t.Mapping[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
    """Probe until every endpoint serves *expected* (or the waits run out); one dict per probe."""
    return probe_cert(cert, expected, **waits(cert, {**PROVE_DEFAULTS, **(prove or {})}))


def record_proof(cert: t.Mapping[str, t.Any]) -> None:
    """Mark the store's current generation proved (every probe was seen serving it)."""
    store, generation, fingerprint = store_state(cert)
    mark_proved(store, generation, fingerprint)


def _prove(run: _Run, expected: str | None) -> list[dict[str, t.Any]]:
    probes = _timed(run, "proof", lambda: prove_served(run.cert, expected, run.opts["prove"]))
    run.out["probes"] = probes
    return t.cast("list[dict[str, t.Any]]", probes)


def _short(fingerprint: str | None) -> str:
    return "none" if not fingerprint else fingerprint[:23] + "..."


def _proved_on(run: _Run) -> str:
    return "proved on %s" % ", ".join(str(e.get("name") or "%s:%s" % (e.get("host"), e.get("port")))
                                      for e in endpoints(run.cert))


def _bad(probes: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    return [p for p in probes if p["served_matches"] is not True]


def _why(run: _Run, bad: list[dict[str, t.Any]], fresh: bool = False) -> tuple[str, str]:
    """(step, message) of a failed proof; ``ghost`` for a watching service that served another certificate
    through every wait (it was sent nothing), else ``proof``."""
    expected = _short(run.out["fingerprint"])
    message = "; ".join("%s serves %s instead of %s" % (p["endpoint"], _short(p["served_fingerprint"]), expected)
                        if p["served_matches"] is False else "%s: %s" % (p["endpoint"], p["error_message"] or p["error"])
                        for p in bad)
    if _reload.watches(run.cert) and all(p["served_matches"] is False for p in bad):
        message += ("; the service watches its files (reload: {watch: true}) and did not pick up the %scertificate "
                    "after %d attempts and %ss of waiting" % ("new " if fresh else "", bad[0]["attempts"],
                                                              bad[0]["waited"]))
        return "ghost", message
    return "proof", message


def _mark(run: _Run) -> None:
    store, generation, fingerprint = store_state(run.cert)
    if fingerprint == run.out["fingerprint"]:
        mark_proved(store, generation, fingerprint)
    run.out["proved"] = True


# --------------------------------------------------------------------------- rollback


def _switch_back(run: _Run, pending: dict[str, t.Any]) -> None:
    """Make the generation before *pending*'s attempted one (forward: the next newer one kept) current;
    nothing when the attempted one is no longer current."""
    from .deploy import DeployRequest, rollback

    request = DeployRequest(targets=targets(run.cert), from_fingerprint=pending["attempted_fingerprint"],
                            in_place=bool(run.cert.get("in_place")), forward=pending.get("direction") == "forward")
    _timed(run, "install", lambda: rollback(request))
    run.refresh()


def _moved(pending: t.Mapping[str, t.Any], to: t.Mapping[str, t.Any], done: str = "rolled") -> str:
    """``rolled back from generation 3 (5e:1f...) to generation 2 (a0:b1...)`` from a rollback's record."""
    def gen(number: t.Any, fingerprint: t.Any) -> str:
        return _short(fingerprint) if number is None else "generation %s (%s)" % (number, _short(fingerprint))

    return "%s %s from %s to %s" % (done, "forward" if pending.get("direction") == "forward" else "back",
                                    gen(pending.get("from_generation"), pending.get("attempted_fingerprint")),
                                    gen(to.get("generation"), to.get("fingerprint")))


def _finish_rollback(run: _Run, store: t.Any, pending: dict[str, t.Any]) -> dict[str, t.Any]:
    """Roll back (or forward) from ``pending["attempted_fingerprint"]`` (if still current), reload, prove."""
    attempted, reason, forward = pending["attempted_fingerprint"], pending.get("reason"), pending.get("direction") == "forward"
    run.out.update(attempted_fingerprint=attempted, from_generation=pending.get("from_generation"),
                   from_not_after=pending.get("from_not_after"))
    try:
        _switch_back(run, pending)
    except CertsError as exc:
        write_json(store, PENDING, None)
        return run.finish("failed", "%s; %s impossible: %s" % (reason, "roll forward" if forward else "rollback", exc),
                          proved=False)
    write_json(store, PENDING, {**pending, "previous_fingerprint": run.out["fingerprint"]})
    error = _reload_service(run) if endpoints(run.cert) or run.out["reload"] != "none" else None
    served = False
    if endpoints(run.cert):
        served = error is None and not _bad(_prove(run, run.out["fingerprint"]))
        if served:
            _mark(run)
    write_json(store, PENDING, {**pending, "previous_fingerprint": run.out["fingerprint"],
                                "to_generation": run.out["generation"], "done": True})
    state = "proved" if served else error or "not proved"
    run.log("rolled %s from %s to %s (%s)" % ("forward" if forward else "back", attempted, run.out["fingerprint"], state))
    which = "newer" if forward else "previous"
    if not endpoints(run.cert):
        verdict = "no probe"
    else:
        verdict = "%s certificate served again" % which if served else "%s certificate NOT proved served (%s)" % (which, state)
    if pending.get("requested"):
        why = "%s, %s" % (_moved(pending, run.out), verdict)
    else:
        why = "%s; rolled back to %s, %s" % (reason, _short(run.out["fingerprint"]), verdict)
    return run.finish("rolled_forward" if forward else "rolled_back", why,
                      previous_served=served if endpoints(run.cert) else None, proved=served if endpoints(run.cert) else None)


def _roll_back(run: _Run, attempted: str | None, reason: str, forward: bool = False,
               requested: bool = False) -> dict[str, t.Any]:
    store, generation, _fingerprint = store_state(run.cert)
    pending = {"attempted_fingerprint": attempted, "reason": reason, "time": time.time(), "done": False,
               "direction": "forward" if forward else "back", "requested": requested, "from_generation": generation,
               "from_not_after": run.out["not_after"]}
    write_json(store, PENDING, pending)
    run.log("%s; rolling %s" % (reason, "forward" if forward else "back"))
    return _finish_rollback(run, store, pending)


def _already(run: _Run, last: t.Mapping[str, t.Any], note: str) -> dict[str, t.Any]:
    """Nothing to move: the last rollback (or roll forward) is where the files are; prove (or repair) it."""
    if last:
        run.out.update(attempted_fingerprint=last.get("attempted_fingerprint"), from_generation=last.get("from_generation"),
                       from_not_after=last.get("from_not_after"))
    return _settle(run, fresh=False, note=note)


def _requested(run: _Run) -> dict[str, t.Any]:
    """rollback.yml: ``target`` ``previous`` rolls back once (a finished rollback of the current files is not
    repeated); ``older`` one generation further back, every time; ``newer`` forward to the generation the last
    rollback left (nothing when the newest kept is current)."""
    from .rollback import target_generation

    store, generation, current = store_state(run.cert)
    last = read_json(store, PENDING) or {}
    forward = run.opts["target"] == "newer"
    here = bool(last.get("done")) and last.get("previous_fingerprint") == current == run.obs["fingerprint"]
    last_forward = last.get("direction") == "forward"
    if here and run.opts["target"] == "previous" and not last_forward:
        return _already(run, last, "already " + _moved(last, {"generation": last.get("to_generation", generation),
                                                              "fingerprint": current}))
    if current is None or generation is None:
        return run.finish("failed", "nothing to roll back: %s has no generation store; deploy a certificate first"
                          % run.obs["path"], proved=None)
    try:
        goal = target_generation(store, generation, forward)
    except CertsError:
        if not forward:
            return run.finish("failed", "nothing to roll back to: generation %s is the oldest of the %d generation(s) kept "
                              "(keep: %s); nothing was changed%s" % (
                                  generation, len(store.generations()), run.cert.get("keep") or 3,
                                  "; roll forward with rollback_to=newer" if store.retired() else ""), proved=None)
        note = "already " + _moved(last, {"generation": generation, "fingerprint": current}) if here and last_forward \
            else "nothing to roll forward to: generation %s is the newest kept" % generation
        return _already(run, last if here and last_forward else {}, note)
    if run.opts["check_mode"]:
        return run.finish("rolled_forward" if forward else "rolled_back", "would roll %s from generation %s to generation %s"
                          % ("forward" if forward else "back", generation, goal), proved=None)
    return _roll_back(run, current, "roll forward requested" if forward else "rollback requested", forward, True)


# --------------------------------------------------------------------------- one certificate


def _settle(run: _Run, fresh: bool, note: str | None = None) -> dict[str, t.Any]:
    """Reload what serves another certificate than the files, prove, mark; roll back a failed fresh install."""
    expected = run.out["fingerprint"]
    if not endpoints(run.cert):
        return run.finish("renewed" if fresh else "unchanged", note or "no probe: installed, not proved", proved=None)
    probes = probe_cert(run.cert, expected) if fresh else run.obs["probes"]
    needs_reload = bool(_bad(probes)) if fresh else any(p["served_matches"] is False for p in probes)
    if not needs_reload and not _bad(probes) and (fresh or not run.obs["unproved"]):
        if fresh or run.out["generation"] is not None:
            _mark(run)
        return run.finish("renewed" if fresh else "unchanged", note or _proved_on(run), proved=True, probes=probes)
    if not fresh and not needs_reload and not run.obs["unproved"]:  # a probe failed, no ghost: nothing to act on
        return run.finish("unchanged", _why(run, _bad(probes))[1], proved=False, probes=probes)
    if run.opts["check_mode"]:
        return run.finish("renewed" if fresh else "repaired", "would reload and prove", proved=None)
    error = _reload_service(run) if needs_reload else None
    bad = _bad(_prove(run, expected)) if error is None else []
    if error is None and not bad:
        _mark(run)
        what = "reloaded, " if needs_reload else ""
        if not fresh and not needs_reload:  # installed earlier (an interrupted run, another tool), served already
            return run.finish("unchanged", note or "generation %s, installed earlier and never proved: %s"
                              % (run.out["generation"], _proved_on(run)), proved=True)
        return run.finish("renewed" if fresh else "repaired", note or what + _proved_on(run), proved=True)
    step, message = ("reload", t.cast(str, error)) if error is not None else _why(run, bad, fresh)
    run.out["failure"] = step
    store = store_state(run.cert)[0]
    if fresh and store is not None and len(store.generations()) > 1:
        return _roll_back(run, expected, "%s failed after install: %s" % (step, message))
    return run.finish("failed", "%s failed: %s" % (step, message), proved=False)


def _one(cert: t.Mapping[str, t.Any], bundle: t.Any, opts: dict[str, t.Any]) -> dict[str, t.Any]:
    run = _Run(cert, bundle, opts)
    store = store_state(cert)[0]
    pending = read_json(store, PENDING)
    if pending and not pending.get("done") and not opts["check_mode"]:
        return _finish_rollback(run, store, pending)  # a rollback was interrupted: finish it first
    if opts["target"] != "newest":
        return _requested(run)
    fresh = False
    if _newer(run):
        run.out["attempted_fingerprint"] = _bundle_fingerprint(bundle)
        if opts["check_mode"]:
            return run.finish("renewed", "would install %s, reload and prove" % _bundle_fingerprint(bundle))
        _install(run)
        fresh = True
    elif bundle is not None and run.obs["unproved"] and _bundle_fingerprint(bundle) == run.obs["fingerprint"]:
        fresh = True  # installed by a run that stopped before its proof: finish it
        run.out["attempted_fingerprint"] = run.obs["fingerprint"]
    if run.obs["status"] in ("missing", "invalid") and not fresh:
        return run.finish("failed" if bundle is None else "unchanged", run.obs.get("error"), proved=None)
    return _settle(run, fresh)


def converge(certs: t.Sequence[t.Mapping[str, t.Any]], bundles: t.Mapping[str, t.Any] | None = None, *,
             prove: t.Mapping[str, t.Any] | None = None, target: str = "newest",
             reloader: t.Callable[[t.Mapping[str, t.Any]], str | None] | None = None,
             log: t.Callable[[str], None] | None = None, check_mode: bool = False,
             policy: t.Any = None) -> list[dict[str, t.Any]]:
    """One outcome per certificate, in order (see the module docstring).

    *bundles* maps certificate names to :class:`._bundle.Bundle` (only the certificates that got a new
    one); *prove* overrides :data:`PROVE_DEFAULTS`; *reloader* replaces :func:`._reload.reload` (returns
    an error message or None); *log* receives one line per step; *policy* (a Policy or its options) only
    describes the files."""
    if target not in TARGETS:
        raise CertsError("target must be one of %s (got %r)" % (", ".join(TARGETS), target))
    opts = {"prove": {**PROVE_DEFAULTS, **{k: v for k, v in (prove or {}).items() if v is not None}},
            "target": target, "reloader": reloader or _reload.reload, "log": log or (lambda _line: None),
            "check_mode": check_mode, "policy": policy_of(policy)}
    return [_one(cert, (bundles or {}).get(cert["name"]), opts) for cert in certs]


def summary(results: t.Sequence[t.Mapping[str, t.Any]]) -> dict[str, int]:
    """Counts by outcome (converge) or by state (observe), plus ``total``."""
    counts: dict[str, int] = {"total": len(results)}
    for res in results:
        for key in [res["outcome"]] if "outcome" in res else res.get("states") or []:
            counts[key] = counts.get(key, 0) + 1
    return counts
