# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The renew_store of renew.yml: the ledger of orders placed, the rate-limit budget counted on it,
and the issue lock shared by runs and AWX job slices."""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import time
import typing as t

from . import _time
from ._durable import locked, write_atomic
from ._errors import FileSystemError, InputError
from ._inventory import set_key

DEFAULT_LIMITS = {"per_registered_domain_week": 50, "per_name_set_week": 5, "orders_per_3h": 300}
WEEK = 7 * 86400
THREE_HOURS = 3 * 3600


# ----------------------------------------------------------------------------- the ledger and the budget


def registered_domain(name: str) -> str:
    """The registered domain of a name, approximated by its last two labels (no public suffix list)."""
    labels = name.lower().rstrip(".").lstrip("*.").split(".")
    return ".".join(labels[-2:])


def parse_time(value: str) -> float:
    """Seconds since the epoch of an ISO 8601 UTC time (the ledger's format); ValueError when it is not one."""
    try:
        return _time.parse_time(value, "ledger time").timestamp()
    except InputError as exc:
        raise ValueError(str(exc)) from None


def iso(epoch: float) -> str:
    """The ledger's time format for *epoch* seconds (ISO 8601, UTC, whole seconds)."""
    return _time.iso(_dt.datetime.fromtimestamp(int(epoch), _time.UTC))


def load_ledger(path: str) -> list[dict[str, t.Any]]:
    """The order ledger (a JSON list); empty when the file does not exist yet."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise InputError("the order ledger %s is unreadable (%s); fix or move it away (it only feeds the "
                         "rate-limit budget)" % (path, exc)) from None
    if not isinstance(data, list):
        raise InputError("the order ledger %s is not a JSON list; fix or move it away" % path)
    return [e for e in data if isinstance(e, dict)]


def budget(planned: t.Sequence[t.Sequence[str]], ledger: t.Sequence[t.Mapping[str, t.Any]],
           limits: t.Mapping[str, t.Any] | None = None, now: float | None = None) -> dict[str, t.Any]:
    """Check the planned orders (each a list of names) against the CA's limits and the ledger.

    Ledger entries that carried ARI ``replaces`` are exempt, as at Let's Encrypt. Planned orders
    count in full (whether the CA will accept ``replaces`` is known only when ordering).
    """
    now = time.time() if now is None else now
    lim = dict(DEFAULT_LIMITS)
    lim.update({k: int(v) for k, v in (limits or {}).items() if k in DEFAULT_LIMITS})
    week: list[t.Mapping[str, t.Any]] = []
    recent = 0
    exempt = 0
    for entry in ledger:
        try:
            age = now - parse_time(str(entry["time"]))
        except (KeyError, ValueError):
            continue
        if entry.get("replaces"):
            if age < WEEK:
                exempt += 1
            continue
        if age < WEEK:
            week.append(entry)
        if age < THREE_HOURS:
            recent += 1
    checks: list[dict[str, t.Any]] = []
    orders_total = recent + len(planned)
    checks.append({"limit": "orders_per_3h", "scope": "account", "used": recent, "planned": len(planned),
                   "max": lim["orders_per_3h"], "ok": orders_total <= lim["orders_per_3h"]})
    per_set: dict[str, int] = {}
    for names in planned:
        key = set_key(names)
        per_set[key] = per_set.get(key, 0) + 1
    for key, count in sorted(per_set.items()):
        used = sum(1 for e in week if set_key(e.get("domains", [])) == key)
        checks.append({"limit": "per_name_set_week", "scope": key, "used": used, "planned": count,
                       "max": lim["per_name_set_week"], "ok": used + count <= lim["per_name_set_week"]})
    per_domain: dict[str, int] = {}
    for names in planned:
        for reg in sorted({registered_domain(n) for n in names}):
            per_domain[reg] = per_domain.get(reg, 0) + 1
    for reg, count in sorted(per_domain.items()):
        used = sum(1 for e in week if reg in {registered_domain(n) for n in e.get("domains", [])})
        checks.append({"limit": "per_registered_domain_week", "scope": reg, "used": used, "planned": count,
                       "max": lim["per_registered_domain_week"], "ok": used + count <= lim["per_registered_domain_week"]})
    over = [c for c in checks if not c["ok"]]
    return {
        "ok": not over,
        "limits": lim,
        "checks": checks,
        "exempt_orders_week": exempt,
        "refused": ["%s for %s: %d used + %d planned > %d allowed" % (c["limit"], c["scope"], c["used"], c["planned"],
                                                                      c["max"]) for c in over],
    }


def record_orders(path: str, entries: t.Sequence[t.Mapping[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Append *entries* to the ledger under an exclusive lock (concurrent slices); drop entries older than a week."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    with locked(path + ".lock"):
        current = load_ledger(path)
        now = time.time()
        kept = []
        for entry in current:
            try:
                if now - parse_time(str(entry["time"])) < WEEK:
                    kept.append(entry)
            except (KeyError, ValueError):
                continue
        kept.extend(dict(e) for e in entries)
        write_atomic(path, json.dumps(kept, indent=1).encode("utf-8"), 0o600)
    return kept


# ----------------------------------------------------------------------------- the issue lock


def acquire_lock(path: str, owner: str, wait: float, stale_after: float) -> dict[str, t.Any]:
    """Take the store's issue lock (a file created with O_EXCL). Waits up to *wait* seconds; a lock older
    than *stale_after* seconds is taken over (its holder died). Returns what happened."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    deadline = time.monotonic() + wait
    waited = 0.0
    started = time.monotonic()
    broke = None
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise FileSystemError("cannot create the lock %s: %s" % (path, exc.strerror)) from None
            holder = _read_lock(path)
            if holder.get("owner") == owner:
                return {"acquired": True, "waited": 0.0, "holder": owner, "broke_stale": None}
            try:
                age = time.time() - os.stat(path).st_mtime
            except FileNotFoundError:
                continue
            if age > stale_after:
                broke = holder.get("owner", "unknown")
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                continue
            if time.monotonic() >= deadline:
                raise FileSystemError(
                    "the renew_store lock %s is held by %s (for %.0f s); another renewal run (or AWX slice) is "
                    "issuing. Wait for it, or remove the file if that run is dead" % (path, holder.get("owner", "?"), age)
                ) from None
            time.sleep(0.2)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"owner": owner, "pid": os.getpid(), "time": iso(time.time())}, handle)
        waited = time.monotonic() - started
        return {"acquired": True, "waited": round(waited, 3), "holder": owner, "broke_stale": broke}


def _read_lock(path: str) -> dict[str, t.Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def release_lock(path: str, owner: str) -> bool:
    """Remove the lock when *owner* holds it; returns whether it was removed."""
    if _read_lock(path).get("owner") != owner:
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True
