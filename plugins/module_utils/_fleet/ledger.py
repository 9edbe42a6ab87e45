# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The renew_store of renew.yml: the ledger of orders placed (the rate-limit schedule counts on it, _schedule.py),
and the issue lock shared by runs and AWX job slices.

The lock lasts as long as its holder: a process of the store's own host (the ansible-playbook run when the store
is on the controller), or, when the store is on another host than the run (``renew_store_host``: the run's process
means nothing there), a lease - the holder renews it while it works (:func:`keep_lease`) and a lock whose lease ran
out is taken over. Leases are set and checked by the store host's clock alone."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import threading
import time
import typing as t
import uuid

from .. import _time
from .._durable import locked, write_atomic
from .._errors import FileSystemError, InputError

DEFAULT_LIMITS = {"per_registered_domain_week": 50, "per_name_set_week": 5, "orders_per_3h": 300}
WEEK = 7 * 86400
THREE_HOURS = 3 * 3600


# ----------------------------------------------------------------------------- the ledger and the budget


def registered_domain(name: str) -> str:
    """The registered domain of a name, the scope of the CA's per-domain limit, by the Public Suffix List that
    ``publicsuffixlist`` ships (nothing is downloaded): ``api.example.com.cn`` -> ``example.com.cn``."""
    from .._domains import registered_domain as by_suffix_list

    return by_suffix_list(name)


def parse_epoch(value: str) -> float:
    """Seconds since the epoch of an ISO 8601 UTC time (the ledger's format); ValueError when it is not one."""
    if len(value) == 20 and value.endswith("Z") and value[10] == "T":   # the ledger's own format: the fast path
        try:
            return _dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_time.UTC).timestamp()
        except ValueError:
            pass
    try:
        return _time.parse_time(value, "ledger time").timestamp()
    except InputError as exc:
        raise ValueError(str(exc)) from None


def epoch_iso(epoch: float) -> str:
    """The ledger's time format for *epoch* seconds (ISO 8601, UTC, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


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


def record_orders(path: str, entries: t.Sequence[t.Mapping[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Append *entries* to the ledger under an exclusive lock (concurrent slices); drop entries older than a week.

    An entry whose ``order_url`` is already in the ledger is not added again (the write-ahead record of an
    accepted order and the end-of-run record of the same order count once)."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    with locked(path + ".lock"):
        current = load_ledger(path)
        now = time.time()
        kept = []
        for entry in current:
            try:
                if now - parse_epoch(str(entry["time"])) < WEEK:
                    kept.append(entry)
            except (KeyError, ValueError):
                continue
        known = {e.get("order_url") for e in kept if e.get("order_url")}
        for new in entries:
            url = new.get("order_url")
            if url and url in known:
                continue  # written ahead when the CA accepted the order: counted once
            kept.append(dict(new))
            if url:
                known.add(url)
        write_atomic(path, json.dumps(kept, indent=1).encode("utf-8"), 0o600)
    return kept


# ----------------------------------------------------------------------------- the issue lock


def boot_id() -> str | None:
    """This host's boot id (Linux); None where there is none."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def _start_ticks(pid: int) -> int | None:
    """When process *pid* started (clock ticks since boot, /proc/<pid>/stat field 22); None if unknown."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return None if fields[0] == "Z" else int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def pid_alive(pid: int, started: int | None = None) -> bool:
    """Whether process *pid* of this host runs (not a zombie; the same process when *started* is known)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    ticks = _start_ticks(pid)
    if os.path.isdir("/proc/%d" % pid) and ticks is None:
        return False  # a zombie
    return started is None or ticks is None or ticks == started


def pid_namespace() -> str | None:
    """This process's PID namespace (containers on one host share the boot id, not the pids)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def lock_record(owner: str, pid: int | None, lease: float | None = None) -> dict[str, t.Any]:
    """What the lock file holds: who, where (host, boot, PID namespace), which process, since when; with a
    *lease* (seconds) no process but the time until which the holder counts as alive (``lease_until``, epoch)."""
    record: dict[str, t.Any] = {
        "owner": owner, "host": socket.gethostname(), "boot_id": boot_id(), "pid_ns": pid_namespace(),
        "pid": None if lease else pid, "pid_start": _start_ticks(pid) if pid and not lease else None,
        "time": epoch_iso(time.time())}
    if lease:
        record.update(lease=float(lease), lease_until=round(time.time() + float(lease), 3))
    return record


def _dead_holder(holder: t.Mapping[str, t.Any], age: float, stale_after: float) -> str | None:
    """Why the lock of *holder* may be taken over now (None: it may not)."""
    until = holder.get("lease_until")
    if isinstance(until, (int, float)) and not isinstance(until, bool):
        late = time.time() - until
        if late > 0:
            return "its lease ran out %.0f s ago (%s s, not renewed: the run that held it stopped)" % (
                late, holder.get("lease", "?"))
        return None
    same_host = holder.get("host") == socket.gethostname()
    pid = holder.get("pid")
    if holder.get("pid_ns") and holder.get("pid_ns") != pid_namespace():
        pid = None  # another container's process: its pid means nothing here
    if same_host and holder.get("boot_id") and boot_id() and holder.get("boot_id") != boot_id():
        return "its host rebooted since the lock was taken"
    if same_host and isinstance(pid, int) and pid > 0 and holder.get("boot_id") == boot_id():
        if not pid_alive(pid, holder.get("pid_start")):
            return "its process %d is gone" % pid
        return None
    if age > stale_after:
        return "it is older than stale_after (%.0f s)" % stale_after
    return None


def _holder_text(holder: t.Mapping[str, t.Any]) -> str:
    return "%s (host %s, pid %s, since %s)" % (holder.get("owner", "unknown"), holder.get("host", "?"),
                                               holder.get("pid", "?"), holder.get("time", "?"))


def _create(path: str, record: t.Mapping[str, t.Any]) -> bool:
    """Create the lock file with its content in one step (a link of a written temp file); False if it exists."""
    tmp = "%s.%s.%d.%s.tmp" % (path, socket.gethostname(), os.getpid(), uuid.uuid4().hex[:8])
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as exc:
        raise FileSystemError("cannot create the lock %s: %s" % (path, exc.strerror)) from None
    finally:
        os.unlink(tmp)
    return True


def _break(path: str, seen: bytes) -> bool:
    """Remove the lock file if it still holds *seen* (breakers serialise on a guard file)."""
    with locked(path + ".guard"):
        try:
            with open(path, "rb") as handle:
                if handle.read() != seen:
                    return False
            os.unlink(path)
        except FileNotFoundError:
            return False
    return True


def acquire_lock(path: str, owner: str, wait: float, stale_after: float,
                 pid: int | None = -1, lease: float | None = None) -> dict[str, t.Any]:
    """Take the store's issue lock: a file naming owner, host, boot id, pid and time.

    A lock of a process that is gone (same host and boot), or of an earlier boot of this host, is taken
    over at once; a live holder is waited for up to *wait* seconds; a lock of another host (or without a
    pid) only once older than *stale_after* seconds. *pid* is the process whose life the lock lasts
    (default this one; None: none, only *stale_after* frees it). Returns ``{acquired, waited, holder,
    broke_stale, held}`` (``broke_stale``: the holder taken over, with ``why``, or None; ``held``: *owner* held
    the lock already - a playbook that took it before its CSR step - so the caller must leave it to that owner).
    With a *lease* (seconds) the lock names no process: it lasts until the lease runs out unless renewed
    (:func:`renew_lease`, :func:`keep_lease`); taking a lock *owner* holds already renews its lease.
    """
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    record = lock_record(owner, os.getpid() if pid == -1 else pid, lease)
    started = time.monotonic()
    broke: dict[str, t.Any] | None = None
    while not _create(path, record):
        try:
            with open(path, "rb") as handle:
                seen = handle.read()
            age = time.time() - os.stat(path).st_mtime
        except FileNotFoundError:
            continue
        holder = _parse_lock(seen)
        if holder.get("owner") == owner:
            if holder.get("lease"):
                renew_lease(path, owner)
            return {"acquired": True, "waited": 0.0, "holder": dict(holder), "broke_stale": None, "held": True}
        if not holder and age < 5:
            time.sleep(0.05)  # an old-style lock being written
            continue
        why = _dead_holder(holder, age, stale_after)
        if why is not None:
            if _break(path, seen):
                broke = dict(holder, why=why)
            continue
        if time.monotonic() - started >= wait:
            raise FileSystemError(
                "the renew_store lock %s is held by %s for %.0f s: another renewal run (or AWX slice) is issuing. "
                "Wait for it to finish (lock_wait), or, if that run is dead, remove the file (a lock of a dead process "
                "of this host is taken over by itself)" % (path, _holder_text(holder), age),
                path=path, holder=dict(holder)) from None
        time.sleep(0.2)
    return {"acquired": True, "waited": round(time.monotonic() - started, 3), "holder": record, "broke_stale": broke,
            "held": False}


def _parse_lock(data: bytes) -> dict[str, t.Any]:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _read_lock(path: str) -> dict[str, t.Any]:
    try:
        with open(path, "rb") as handle:
            return _parse_lock(handle.read())
    except OSError:
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


def renew_lease(path: str, owner: str) -> bool:
    """Move the lease of the lock *owner* holds forward by its length; False when *owner* does not hold it or
    it has no lease. Serialised with breakers (the guard file), so a lease renewed in time is never broken."""
    with locked(path + ".guard"):
        holder = _read_lock(path)
        lease = holder.get("lease")
        if holder.get("owner") != owner or not isinstance(lease, (int, float)) or isinstance(lease, bool):
            return False
        holder["lease_until"] = round(time.time() + float(lease), 3)
        write_atomic(path, json.dumps(holder).encode("utf-8"), 0o600, durable=False)
    return True


@contextlib.contextmanager
def keep_lease(path: str, owner: str, every: float | None = None) -> t.Iterator[None]:
    """While the block runs, renew the lease of the lock *owner* holds (every quarter of the lease, or *every*
    seconds); a lock without a lease (a process holds it) or of another owner is left alone."""
    holder = _read_lock(path)
    lease = holder.get("lease")
    if holder.get("owner") != owner or not isinstance(lease, (int, float)) or isinstance(lease, bool):
        yield
        return
    stop = threading.Event()
    period = every if every is not None else max(float(lease) / 4.0, 0.2)

    def beat() -> None:
        while not stop.wait(period):
            try:
                if not renew_lease(path, owner):
                    return
            except (OSError, FileSystemError):
                continue  # try again at the next beat; the lease is longer than a beat

    thread = threading.Thread(target=beat, name="renew-store-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
