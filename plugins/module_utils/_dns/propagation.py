# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Wait until every authoritative server answers every TXT value written (instead of sleeping)."""

from __future__ import annotations

import time
import typing as t

from .._errors import DNSProviderError, PropagationTimeout
from .zone import Lookup, Server


def wait_for_txt(
    lookup: Lookup,
    expected: t.Mapping[str, t.Collection[str]],
    servers: t.Mapping[str, t.Sequence[Server]],
    timeout: float,
    interval: float = 0.25,
    max_interval: float = 2.0,
) -> float:
    """Poll until, for each name in *expected*, each of its *servers* answers all its values.

    Returns the seconds waited.  Raises :class:`PropagationTimeout` naming what is still missing
    where, once *timeout* seconds have passed.
    """
    start = time.monotonic()
    pending = {(name, server) for name in expected for server in servers[name]}
    last_seen: dict[tuple[str, Server], str] = {}
    delay = interval
    while True:
        for name, server in sorted(pending, key=lambda p: (p[0], str(p[1]))):
            try:
                values = lookup.txt_values(server, name)
            except DNSProviderError as exc:
                last_seen[(name, server)] = "no answer (%s)" % exc
                continue
            missing = set(expected[name]) - values
            if not missing:
                pending.discard((name, server))
            else:
                last_seen[(name, server)] = "%d of %d values missing" % (len(missing), len(expected[name]))
        if not pending:
            return time.monotonic() - start
        waited = time.monotonic() - start
        if waited >= timeout:
            detail = "; ".join("%s at %s: %s" % (n, s, last_seen.get((n, s), "not checked"))
                               for n, s in sorted(pending, key=lambda p: (p[0], str(p[1]))))
            raise PropagationTimeout(
                "the TXT records were not visible on every authoritative server after %ds (%s); the records were "
                "removed again. Check that every listed server receives updates for the zone (secondaries, "
                "NOTIFY), or raise propagation_timeout" % (int(timeout), detail),
                pending=sorted("%s@%s" % (n, s) for n, s in pending),
            )
        time.sleep(min(delay, max(0.0, timeout - waited)))
        delay = min(delay * 1.5, max_interval)
