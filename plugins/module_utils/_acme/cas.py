# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The CAs of the inventory model: ``certwatch_acme`` as one mapping or as an ordered list (primary first).

Each CA has a ``name`` (a list's entries name themselves; a single mapping is named after its directory's
host), acme_dns01's options without the ``acme_`` prefix and its own rate ``limits``. The primary issues
while it answers; an order that fails on it because of the CA (unreachable, HTTP 5xx or 429 past the
retries, a breaker the run opened) is placed with the next one in the same run (:func:`ca_failure`).

Which CA issued a certificate is remembered by its issuer's key identifier (the first half of its ARI
certificate id) in ``<renew_store>/issuers.json``, written whenever a CA issues: its ARI window is asked of
that CA and ``replaces`` is sent only to it. A certificate of an issuer never seen is the primary's.
"""

from __future__ import annotations

import json
import os
import threading
import typing as t
import urllib.parse

from .._errors import CertsError

ISSUERS_FILE = "issuers.json"
# acme_dns01's options a CA entry maps onto (entry key -> option name)
ACME_OPTIONS = {"directory": "acme_directory", "ca_bundle": "acme_ca_bundle", "email": "account_email",
                "terms_agreed": "terms_agreed", "account_key_content": "account_key_content",
                "account_key_path": "account_key_path", "eab_kid": "eab_kid", "eab_hmac_key": "eab_hmac_key",
                "profile": "profile", "preferred_chain": "preferred_chain", "ari": "ari", "timeout": "timeout"}
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_write_lock = threading.Lock()


def default_name(directory: t.Any) -> str:
    """A single mapping's CA name: the host of its directory URL (``acme-v02.api.letsencrypt.org``)."""
    host = urllib.parse.urlsplit(str(directory or "")).hostname
    return host or "ca"


def ca_list(acme: t.Any) -> list[dict[str, t.Any]]:
    """``certwatch_acme`` as the ordered list of CAs (primary first), each with its ``name``; [] when unset or
    malformed (validation reports those)."""
    if isinstance(acme, t.Mapping):
        entries: list[t.Any] = [acme]
    elif isinstance(acme, list):
        entries = acme
    else:
        return []
    out = []
    for entry in entries:
        if not isinstance(entry, t.Mapping):
            return []
        ca = dict(entry)
        ca["name"] = str(ca.get("name") or default_name(ca.get("directory")))
        out.append(ca)
    return out


def primary(acme: t.Any) -> dict[str, t.Any]:
    """The primary CA (the mapping itself, or the list's first entry); {} when there is none."""
    cas = ca_list(acme)
    return cas[0] if cas else {}


def problems(where: t.Callable[[str], str], acme: t.Any, check_entry: t.Callable[[str, t.Any], bool],
             limit_names: t.Sequence[str]) -> list[str]:
    """What is wrong with the list form (the mapping form is *check_entry*'s): each entry a mapping that passes
    *check_entry* (field name, entry), a ``name`` of its own (letters, digits, ``.``, ``_``, ``-``), ``limits`` a
    mapping of *limit_names* to whole numbers. *where* names a field for the message."""
    out: list[str] = []
    if not isinstance(acme, list):
        return out
    if not acme:
        return ["%s: an empty list; give one CA (a mapping) or a list of CAs, primary first" % where("certwatch_acme")]
    seen: dict[str, int] = {}
    for index, entry in enumerate(acme):
        field = "certwatch_acme[%d]" % index
        if not check_entry(field, entry):
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARS:
            out.append("%s: every CA of a list needs a name of its own (letters, digits, '.', '_', '-'), got %r"
                       % (where(field + ".name"), name))
        elif name in seen:
            out.append("%s: the name %r is also the name of certwatch_acme[%d]; each CA needs its own"
                       % (where(field + ".name"), name, seen[name]))
        else:
            seen[name] = index
    for index, entry in enumerate(acme):
        if isinstance(entry, t.Mapping) and "limits" in entry:
            out.extend(limit_problems(where("certwatch_acme[%d].limits" % index), entry["limits"], limit_names))
    return out


def limit_problems(where: str, limits: t.Any, limit_names: t.Sequence[str]) -> list[str]:
    if not isinstance(limits, t.Mapping):
        return ["%s: must be a dict of %s" % (where, ", ".join(limit_names))]
    out = []
    for key, value in limits.items():
        if key not in limit_names:
            out.append("%s: unknown key %r; known keys: %s" % (where, key, ", ".join(limit_names)))
        elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
            out.append("%s.%s: must be a whole number of orders (1 or more), got %r" % (where, key, value))
    return out


def order_options(ca: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """One CA's acme_dns01 options (``acme_directory``, ``acme_ca_bundle``, ...), only those it sets."""
    return {option: ca[key] for key, option in ACME_OPTIONS.items() if ca.get(key) is not None}


def ca_failure(exc: BaseException) -> bool:
    """Whether an order failed because of its CA (another CA may issue it): the CA unreachable, or HTTP 5xx or
    429 past the retries. Not for the order's own faults (names, DNS, policy, the account's terms)."""
    if not isinstance(exc, CertsError):
        return False
    details = exc.details
    return bool(details.get("ca_unreachable") or details.get("ca_failure"))


# ----------------------------------------------------------------------------- which CA issued what


def issuer_key_id(cert_id: str | None) -> str | None:
    """The issuer's key identifier (base64url) of an ARI certificate id (``<aki>.<serial>``)."""
    if not cert_id or "." not in str(cert_id):
        return None
    return str(cert_id).split(".", 1)[0] or None


def load_issuers(store: str | None) -> dict[str, dict[str, str]]:
    """The issuers seen in renew_store *store*: issuer key id -> ``{"name", "directory"}`` of the CA."""
    if not store:
        return {}
    try:
        with open(os.path.join(store, ISSUERS_FILE)) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): {"name": str(v.get("name")), "directory": str(v.get("directory"))}
            for k, v in data.items() if isinstance(v, dict)}


def remember_issuer(store: str, cert_id: str | None, ca: t.Mapping[str, t.Any]) -> None:
    """Note that the CA *ca* (``name``, ``directory``) issued the certificate *cert_id* (thread-safe; a store
    that cannot be written only loses this hint: the primary is asked then)."""
    aki = issuer_key_id(cert_id)
    if not aki or not store:
        return
    with _write_lock:
        known = load_issuers(store)
        entry = {"name": str(ca.get("name")), "directory": str(ca.get("directory"))}
        if known.get(aki) == entry:
            return
        known[aki] = entry
        path = os.path.join(store, ISSUERS_FILE)
        tmp = "%s.%d.tmp" % (path, os.getpid())
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(known, handle, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def issuing_ca(cert_id: str | None, cas: t.Sequence[t.Mapping[str, t.Any]],
               issuers: t.Mapping[str, t.Mapping[str, str]]) -> dict[str, t.Any] | None:
    """The CA of *cas* that issued the certificate *cert_id* (by its issuer, as remembered in *issuers*); the
    primary when the issuer is unknown or not one of *cas*; None without CAs."""
    if not cas:
        return None
    known = issuers.get(issuer_key_id(cert_id) or "")
    if known:
        for ca in cas:
            if ca.get("directory") == known.get("directory"):
                return dict(ca)
    return dict(cas[0])


def issuer_known(cert_id: str | None, issuers: t.Mapping[str, t.Mapping[str, str]]) -> str | None:
    """The name of the CA remembered for *cert_id*'s issuer, or None."""
    known = issuers.get(issuer_key_id(cert_id) or "")
    return known.get("name") if known else None


def assign(order: dict[str, t.Any], holders: t.Sequence[t.Mapping[str, t.Any]],
           cas: t.Sequence[t.Mapping[str, t.Any]]) -> None:
    """Give a planned *order* its CAs (those of its first host): ``ca`` and ``ca_directory`` of the primary,
    ``fallback`` (the names of the next ones) and ``replaces_directory`` (the CA that issued the certificate
    ``replaces`` names: only that CA gets ``replaces``, so an order the primary did not issue the certificate
    of is not an exempt ARI renewal there)."""
    first = cas[0] if cas else {}
    order.update(ca=first.get("name"), ca_directory=first.get("directory"),
                 fallback=[str(c.get("name")) for c in cas[1:]])
    if order.get("replaces"):
        holder = next((h for h in holders if h.get("ari_cert_id") == order["replaces"]), None)
        at = holder.get("ca_directory") if holder else None
        order["replaces_directory"] = at
        if at and at != first.get("directory"):
            order["ari_exempt"] = False


def budgets(cas: t.Iterable[t.Mapping[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    """Per CA directory: its name and its own ``limits`` (the first host that defines the CA wins)."""
    out: dict[str, dict[str, t.Any]] = {}
    for ca in cas:
        directory = ca.get("directory")
        if directory and directory not in out:
            out[str(directory)] = {"name": ca.get("name"), "limits": dict(ca.get("limits") or {})}
    return out
