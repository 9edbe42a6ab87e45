# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The renew playbook's orders, issued on the controller: concurrently, under the renew_store lock,
every accepted order written ahead to the ledger.

:func:`issue_orders` takes the store's issue lock (``issue.lock``), runs :func:`issue_one` for every
order in a small thread pool and releases the lock whatever happened. :func:`issue_one` is
``acme_dns01``'s work for one order (:func:`~._acme.issue.renew` into the order's store directory:
a fresh certificate already there is reused, not ordered again) plus a write-ahead hook: the moment
the CA accepts the newOrder, the order is appended to ``ledger.json`` (``_ledger.record_orders``), so
a run that dies later still counts it in the rate-limit budget. One failed order is reported for
that order; it fails nothing else.

Two runs (or AWX slices) at once: the orders of a run are all placed under the store lock, and a name
set that the other run ordered meanwhile is reused, not ordered again - :func:`~.reuse.reusable` says when a
certificate in an order's store may stand in for an order (also for renew.yml's CSR step, so that a
host that already holds the key of that certificate sends a CSR for it). One :class:`~._acme.retry.Breaker`
per CA and run: once the CA is found unreachable, the run's other orders fail at once with that reason.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import threading
import time
import typing as t

from .. import _x509
from .._acme import cas as _cas
from .._acme.issue import AcmeAccount, account_key, renew
from .._acme.options import renew_request
from .._acme.retry import Breakers
from .._errors import CertsError, InputError
from . import ledger as _ledger
from .reuse import reusable

OrderHook = t.Callable[[t.Mapping[str, t.Any]], None]


# ----------------------------------------------------------------------------- the write-ahead ledger


class WriteAhead:
    """The on_order hook of one run: every accepted order goes to the ledger at once (thread-safe).

    An entry the ledger could not take (unwritable store) is kept in ``pending`` and tried again by
    :meth:`flush`; ``accepted`` lists every entry, in the order the CA accepted them.
    """

    def __init__(self, ledger_path: str) -> None:
        self.path = ledger_path
        self.accepted: list[dict[str, t.Any]] = []
        self.pending: list[dict[str, t.Any]] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def hook(self, sink: list[dict[str, t.Any]] | None = None) -> OrderHook:
        def on_order(info: t.Mapping[str, t.Any]) -> None:
            entry = {"time": _ledger.epoch_iso(time.time()), "domains": sorted(str(n).lower() for n in info["names"]),
                     "replaces": bool(info.get("replaces")), "order_url": info.get("order_url")}
            if info.get("profile"):
                entry["profile"] = str(info["profile"])   # the profile the CA was asked for
            if info.get("directory"):  # the CA's budget: the ledger is counted per CA
                entry.update(ca=info.get("ca"), directory=info["directory"])
            with self._lock:
                self.accepted.append(entry)
            if sink is not None:
                sink.append(entry)
            self._write([entry])
        return on_order

    def _write(self, entries: list[dict[str, t.Any]]) -> None:
        try:
            _ledger.record_orders(self.path, entries)
        except (CertsError, OSError) as exc:
            with self._lock:
                self.pending.extend(entries)
                self.errors.append("the order ledger %s could not be written (%s)" % (self.path, exc))

    def flush(self) -> list[str]:
        """Try the pending entries once more; returns the warnings to show."""
        with self._lock:
            pending, self.pending = self.pending, []
        if pending:
            self._write(pending)
        if not self.pending:
            return []
        return ["%d accepted orders are not in the ledger %s (%s); record them with renew_store state=recorded: %s"
                % (len(self.pending), self.path, self.errors[-1], ", ".join(str(e["order_url"]) for e in self.pending))]


# ----------------------------------------------------------------------------- orders


def _outcome(order: t.Mapping[str, t.Any], store: str, domains: list[str]) -> dict[str, t.Any]:
    return {"ok": False, "ordered": False, "reused": False, "replaces": False, "reason": None, "msg": None,
            "fingerprint": None, "not_after": None, "store": store, "domains": domains, "order_url": None,
            "accepted": False, "warnings": [], "ca": order.get("ca"), "tried": []}


def _attempts(order: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The order as each of its CAs would place it, primary first: a fallback CA's options replace the
    primary's, and ARI ``replaces`` goes only to the CA that issued the certificate it names."""
    first = dict(order)
    fallbacks = first.pop("fallback_cas", None) or []
    replaced_at = first.pop("replaces_directory", None)
    out = [first]
    for ca in fallbacks:
        attempt = {k: v for k, v in first.items() if k not in _cas.ACME_OPTIONS.values()}
        attempt.update({k: v for k, v in ca.items() if k in _cas.ACME_OPTIONS.values() and v is not None}, ca=ca.get("name"))
        out.append(attempt)
    for attempt in out:
        if attempt.get("replaces") and replaced_at and attempt.get("acme_directory") != replaced_at:
            attempt.update(replaces=None, ari_exempt=False)
    return out


def _cert_id(path: str) -> str | None:
    try:
        from .._acme.ari import cert_id

        with open(path, "rb") as handle:
            return cert_id(_x509.load_certificates(handle.read(), path)[0][0])
    except (OSError, IndexError, ValueError, CertsError):
        return None


def _place(order: t.Mapping[str, t.Any], out: dict[str, t.Any], hook: OrderHook, breakers: Breakers | None,
           meanwhile: bool) -> None:
    """Renew *order* with its CA into ``out`` (raises CertsError for the order's failure)."""
    req = renew_request(order)
    req.issue.on_order = hook
    if breakers is not None:
        req.issue.breaker = breakers.get(req.issue.account.directory)
    result = renew(req)
    cert = result.certificate or {}
    out.update(ok=bool(cert), ordered=result.renewed, reused=bool(cert) and not result.renewed,
               reason=result.reason, fingerprint=cert.get("fingerprint_sha256"), not_after=cert.get("not_after"),
               order_url=result.order_url)
    out["warnings"].extend(result.warnings)
    if not cert:
        out["msg"] = "no certificate in %s (%s)" % (out["store"], result.reason)
    elif meanwhile and not result.renewed:
        out["reason"] = "ordered meanwhile by another run (installed in %s after this run planned)" % out["store"]


def _ledger_hook(ca: t.Mapping[str, t.Any], seen: list[dict[str, t.Any]], on_order: OrderHook | None) -> OrderHook:
    """The on_order hook of one CA's attempt: the accepted order, with its CA, noted and passed on (the ledger)."""
    def hook(info: t.Mapping[str, t.Any]) -> None:
        entry = dict(info, ca=ca["name"], directory=ca["directory"])
        seen.append(entry)
        if on_order is not None:
            on_order(entry)
    return hook


def issue_one(order: t.Mapping[str, t.Any], on_order: OrderHook | None = None,
              breakers: Breakers | None = None, since: float | None = None,
              issuers_store: str | None = None) -> dict[str, t.Any]:
    """Renew one order into its store directory; never raises for the order's own failure.

    Returns ``{ok, ordered, reused, replaces, reason, msg, fingerprint, not_after, store, domains,
    order_url, accepted, warnings, ca, tried}``: ``ok`` a certificate is ready in ``store``; ``ordered`` it was
    issued now; ``reused`` a fresh one was there already; ``replaces`` the order carried ARI ``replaces``;
    ``accepted`` the CA accepted an order (it is in the ledger even when ``ok`` is false); ``ca`` the CA that
    issued it (or failed last); ``tried`` the CAs that failed before (``{ca, msg}``): an order that fails because
    of its CA (:func:`._cas.ca_failure`) is placed with the order's next CA (``fallback_cas``) at once. A CA that
    issues is remembered for the certificate's issuer in *issuers_store* (``issuers.json``).
    """
    store = str(order.get("store") or os.path.dirname(str(order.get("cert_path") or "")))
    domains = sorted(str(n).lower().rstrip(".") for n in (order.get("names") or order.get("domains") or []))
    out = _outcome(order, store, domains)
    seen: list[dict[str, t.Any]] = []
    attempts = _attempts(order)
    meanwhile = False
    for index, attempt in enumerate(attempts):
        ca = {"name": attempt.get("ca"), "directory": attempt.get("acme_directory")}
        hook = _ledger_hook(ca, seen, on_order)

        out.update(ca=ca["name"], msg=None)
        try:
            if index == 0:
                # ordered by another run (or slice) since this one planned: reused like a fresh certificate, even if forced
                meanwhile = since is not None and reusable(str(order.get("cert_path")), domains, order, True, since) is not None
            if meanwhile and attempt.get("force"):
                attempt = dict(attempt, force=False)
            if store:
                os.makedirs(store, mode=0o700, exist_ok=True)
            _place(attempt, out, hook, breakers, meanwhile)
        except CertsError as exc:
            out["msg"] = str(exc)
            if _cas.ca_failure(exc) and index + 1 < len(attempts):
                out["tried"].append({"ca": ca["name"], "msg": str(exc)})
                out["warnings"].append("CA %s failed (%s); the order goes to CA %s"
                                       % (ca["name"], exc, attempts[index + 1].get("ca")))
                continue
        except Exception as exc:  # a bug must not take the other orders down
            out["msg"] = "unexpected error: %s: %s" % (exc.__class__.__name__, exc)
        break
    if out["ordered"] and issuers_store:
        _remember_issuer(issuers_store, store, out, seen)
    if seen:
        _note_accepted(order, out, seen[-1])
    return out


def _remember_issuer(issuers_store: str, store: str, out: t.Mapping[str, t.Any], seen: list[dict[str, t.Any]]) -> None:
    """Remember the CA that issued the certificate now in *store* for its issuer (``issuers.json``)."""
    _cas.remember_issuer(issuers_store, _cert_id(os.path.join(store, "cert.pem") if store else ""),
                         {"name": out["ca"], "directory": seen[-1]["directory"] if seen else None})


def _note_accepted(order: t.Mapping[str, t.Any], out: dict[str, t.Any], last: t.Mapping[str, t.Any]) -> None:
    """Note in ``out`` the order a CA accepted last (*last*, its ledger entry), warning of a lost ARI exemption."""
    out.update(accepted=True, order_url=last.get("order_url"), replaces=bool(last.get("replaces")))
    if order.get("ari_exempt") and not out["replaces"]:
        out["warnings"].append("planned as an ARI renewal (exempt from the rate limits), but ordered without "
                               "replaces (the CA offers no ARI, or another CA than the one that issued the "
                               "certificate took the order): the ledger counts it in full")


def prepare_accounts(orders: t.Sequence[t.Mapping[str, t.Any]]) -> None:
    """Create each missing account key file once, before orders run side by side and race to create it."""
    for path in sorted({str(o["account_key_path"]) for o in orders
                        if o.get("account_key_path") and not o.get("account_key_content")}):
        try:
            account_key(AcmeAccount(directory="", key_path=path))
        except CertsError:
            continue  # reported by the order itself


@dataclasses.dataclass
class IssueRun:
    issued: dict[str, dict[str, t.Any]]
    lock: dict[str, t.Any]
    warnings: list[str]
    ledger: str
    unreachable: dict[str, str] = dataclasses.field(default_factory=dict)


def issue_orders(orders: t.Sequence[t.Mapping[str, t.Any]], store: str, owner: str, concurrency: int = 4,
                 lock_wait: float = 900, stale_after: float = 3600, since: float | None = None) -> IssueRun:
    """Issue *orders* (dicts of the options of :func:`~.._acme.options.order_argspec`) under the lock of renew_store
    *store*.

    At most *concurrency* orders run at once. A lock that cannot be taken raises FileSystemError naming
    its holder; anything else is reported per order id in ``issued``. A lock *owner* already holds (taken
    by the playbook before its CSR step) is used and left to it. *since*: when the run planned (see
    :func:`~.reuse.reusable`). ``unreachable``: the CAs found unreachable, with why (their other orders failed at once).
    """
    ids = [str(o.get("id")) for o in orders]
    if len(set(ids)) != len(ids) or "None" in ids:
        raise InputError("every order needs an id of its own (got %s)" % ", ".join(ids))
    ledger = os.path.join(store, "ledger.json")
    lock_path = os.path.join(store, "issue.lock")
    got = _ledger.acquire_lock(lock_path, owner, lock_wait, stale_after)
    ahead = WriteAhead(ledger)
    breakers = Breakers()
    issued: dict[str, dict[str, t.Any]] = {}
    try:
        prepare_accounts(orders)
        workers = max(1, min(int(concurrency), len(orders) or 1))
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="order") as pool:
            futures = {oid: pool.submit(issue_one, order, ahead.hook(), breakers, since, store)
                       for oid, order in zip(ids, orders)}
            for oid, future in futures.items():
                issued[oid] = future.result()
    finally:
        warnings = ahead.flush()
        if not got.get("held"):
            _ledger.release_lock(lock_path, owner)
    for oid, outcome in issued.items():
        warnings.extend("order %s: %s" % (oid, w) for w in outcome.pop("warnings"))
    lock = {"acquired": got["acquired"], "waited": got["waited"], "broke_stale": got["broke_stale"]}
    return IssueRun(issued=issued, lock=lock, warnings=warnings, ledger=ledger, unreachable=breakers.open())
