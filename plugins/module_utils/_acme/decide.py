# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether the installed certificate must be renewed: local policy, then ACME Renewal Information.

:func:`assess` reads the installed certificate (and key) and applies the policy; :func:`decide` adds
the CA's ARI window when a ``renewal_info`` callable is given (``AcmeClient.renewal_info``; any
callable returning ``{cert_id, start, end, explanation_url}`` or ``None``) and names the certificate
a new order ``replaces``.  No file is written and, without ``renewal_info``, no network is used.
"""

from __future__ import annotations

import dataclasses
import typing as t

from .. import _policy, _x509
from .._durable import read_file
from .._errors import CertificateError, CertsError
from .._time import iso
from .ari import cert_id, in_window

RenewalInfo = t.Callable[[t.Any], "dict[str, t.Any] | None"]


@dataclasses.dataclass
class RenewDecision:
    due: bool
    reason: str
    description: dict[str, t.Any] | None = None
    cert: t.Any = dataclasses.field(default=None, repr=False)
    ari: dict[str, t.Any] | None = None
    replaces: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None


def assess(cert_path: str, key_path: str | None, names: t.Sequence[str], policy: _policy.Policy) -> RenewDecision:
    """Describe the installed certificate and say whether the local policy makes it due, and why.

    *key_path* (``None`` when the key is not on this host) must hold the certificate's key, else the
    certificate is due with reason ``key_mismatch``.
    """
    data = read_file(cert_path)
    if data is None:
        return RenewDecision(True, "no_certificate")
    try:
        certs, _fmt = _x509.load_certificates(data, cert_path)
    except CertificateError as exc:
        return RenewDecision(True, "unreadable_certificate", error=str(exc))
    leaf = certs[0]
    desc = _x509.describe(leaf, cert_path, policy)
    missing = _x509.names_cover(leaf, names)
    extra = [n for n in _x509.dns_names(leaf) if n.lower() not in names]
    reason = None
    if policy.force:
        reason = "forced"
    elif missing or extra:
        reason = "names_changed"
    elif desc["status"] in ("expired", "not_yet_valid"):
        reason = desc["status"]
    elif desc["due"]:
        reason = desc["reasons"][0] if desc["reasons"] else "renewal_window"
    if reason is None and key_path:
        key_data = read_file(key_path)
        try:
            if key_data is None or not _x509.public_key_matches(leaf, _x509.load_private_key(key_data, key_path)):
                reason = "key_mismatch"
        except CertificateError:
            reason = "key_mismatch"
    return RenewDecision(reason is not None, reason or "not_due", desc, leaf)


def decide(cert_path: str, key_path: str | None, names: t.Sequence[str], policy: _policy.Policy,
           renewal_info: RenewalInfo | None = None) -> RenewDecision:
    """:func:`assess`, then the CA's window: an open window makes the certificate due; one not yet
    open postpones a renewal the local policy would start for a certificate that is merely ``due``."""
    decision = assess(cert_path, key_path, names, policy)
    if decision.cert is None:
        return decision
    if renewal_info is None:
        try:
            decision.replaces = cert_id(decision.cert)
        except CertsError:
            decision.replaces = None
        return decision
    try:
        info = renewal_info(decision.cert)
    except CertsError as exc:
        decision.warnings.append("ARI (renewalInfo) was not usable, the local policy decided: %s" % exc)
        return decision
    if info is None:
        return decision
    started = in_window(info, policy.now)
    decision.ari = {"cert_id": info["cert_id"], "window_start": iso(info["start"]), "window_end": iso(info["end"]),
                    "explanation_url": info.get("explanation_url"), "in_window": started}
    decision.replaces = info["cert_id"]
    if started and not decision.due:
        decision.due, decision.reason = True, "ari_window"
    elif (decision.due and decision.reason == "renewal_window" and not started
          and decision.description is not None and decision.description["status"] == "due"):
        # the CA's window has not opened yet and the certificate is not in danger: wait for it
        decision.due, decision.reason = False, "ari_window_not_started"
    return decision
