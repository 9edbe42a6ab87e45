# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether a certificate already in an order's store may stand in for the order (renew.yml's issue step and its
CSR step, and the ``renew_reusable`` filter).

Kept apart from :mod:`.issuing` on purpose: the filter plugins of the collection import this module, and Ansible
loads every filter file of the collection whenever a task uses any one of its filters (in every forked worker), so
the ACME and DNS client libraries that issuing needs must not come with it, nor cryptography until it is called.
"""

from __future__ import annotations

import os
import typing as t


def reusable(cert_path: str, names: t.Sequence[str], policy_options: t.Mapping[str, t.Any] | None = None,
             force: bool = False, since: float | None = None, seen: t.Iterable[str | None] = ()) -> t.Any:
    """The certificate at *cert_path* (an order's store) when this run may use it instead of ordering, else None.

    It must name exactly *names* and be valid now, and either it was installed at or after *since* (this run's
    plan: another run or AWX slice ordered it meanwhile), or, unless *force*, it is not due under the policy
    (*policy_options*) and is not a certificate the plan saw on the hosts (fingerprints *seen*: their verdict was
    made on it, an ARI window included).
    """
    from .. import _x509  # here, not at the top: they load cryptography (see the module's docstring)
    from .._acme.decide import assess
    from .._policy import Policy

    wanted = sorted(str(n).lower().rstrip(".") for n in names)
    decision = assess(cert_path, None, wanted, Policy.from_options({**(policy_options or {}), "force": False}))
    if decision.cert is None or decision.reason in ("names_changed", "expired", "not_yet_valid", "unreadable_certificate"):
        return None
    try:
        installed = os.stat(cert_path).st_mtime
    except OSError:
        return None
    if since is not None and installed >= since:
        return decision.cert
    if force or decision.due:
        return None
    judged = {str(f).replace(":", "").lower() for f in seen if f}
    return None if _x509.fingerprint(decision.cert).replace(":", "") in judged else decision.cert
