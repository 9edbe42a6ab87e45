# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue or renew one certificate over ACME DNS-01: the engine behind ``acme_dns01`` and the agent.

:func:`run` takes the module's options as a plain dict and returns the result dict.  Order of
work, so that a refusal costs nothing and a failure leaves nothing half-written:

1. check the options, the names and ``allowed_domains`` (no network yet);
2. read the installed certificate and apply the renewal policy (and ARI when the CA offers it);
3. not due, or check mode: stop here, no order;
4. key and CSR, account, order, TXT records, propagation, validation, cleanup, finalize;
5. verify the certificate against the key and the names, then write the files atomically,
   restoring the previous ones if a later write fails.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import json
import os
import re
import time
import typing as t

from .. import _policy, _x509
from .._atomic import atomic_write
from .._deps import require
from .._dns.registry import make_provider, provider_class
from .._dns.zone import Lookup
from .._errors import CertificateError, CertsError, FileSystemError, InputError
from .._time import iso
from . import keys as _keys
from .ari import cert_id, in_window
from .client import AcmeClient
from .orders import obtain
from .retry import RetryPolicy

NAME_RE = re.compile(r"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


# --------------------------------------------------------------------------- names


def normalize_names(names: t.Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in names:
        name = str(raw).strip().rstrip(".").lower()
        if not name:
            continue
        try:
            name = name.encode("idna").decode("ascii") if not name.isascii() else name
        except UnicodeError:
            raise InputError("%r is not a valid domain name" % raw) from None
        if not NAME_RE.match(name) or len(name) > 253:
            raise InputError("%r is not a valid DNS name for a certificate (wildcards only as a whole first "
                             "label, like *.example.com)" % raw)
        if name not in out:
            out.append(name)
    return out


def allowed(name: str, patterns: t.Sequence[str]) -> bool:
    """``example.com`` allows exactly that name; ``*.example.com`` allows every name below it
    (wildcards included); other shell patterns (``shop-*.example.com``) match with fnmatch."""
    for raw in patterns:
        pattern = str(raw).strip().rstrip(".").lower()
        if not pattern:
            continue
        if pattern.startswith("*.") and name.endswith(pattern[1:]) and len(name) > len(pattern) - 1:
            return True
        if name == pattern or (any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(name, pattern)):
            return True
    return False


def check_allowed(names: t.Sequence[str], patterns: t.Sequence[str] | None) -> None:
    if patterns is None:
        return
    refused = [n for n in names if not allowed(n, patterns)]
    if refused:
        raise InputError(
            "refusing to request a certificate for %s: not in allowed_domains (%s). No ACME or DNS request was made; "
            "fix names or extend allowed_domains" % (", ".join(refused), ", ".join(patterns) or "empty list"),
            refused=refused,
        )


# --------------------------------------------------------------------------- files


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FileSystemError("%s cannot be read (%s)" % (path, exc.strerror), path=path) from None


def _check_dir(path: str | None, option: str) -> None:
    if not path:
        return
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(directory):
        raise FileSystemError("the directory of %s %s does not exist; create it first" % (option, path), path=path)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise FileSystemError("the directory of %s %s is not writable by this user" % (option, path), path=path)


def write_files(files: t.Sequence[tuple[str, bytes, int]]) -> None:
    """Write every (path, data, mode) atomically; if one fails, put the earlier ones back."""
    done: list[tuple[str, bytes | None]] = []
    try:
        for path, data, mode in files:
            before = _read(path)
            atomic_write(path, data, mode)
            done.append((path, before))
    except CertsError:
        for path, before in reversed(done):
            try:
                if before is None:
                    os.unlink(path)
                else:
                    atomic_write(path, before, 0o600 if path.endswith(".key") else 0o644)
            except (OSError, CertsError):
                pass
        raise


# --------------------------------------------------------------------------- decision


def existing_state(params: t.Mapping[str, t.Any], names: list[str], policy: _policy.Policy) -> dict[str, t.Any]:
    """Describe the installed certificate and say whether it is due, and why."""
    data = _read(params["cert_path"])
    if data is None:
        return {"description": None, "due": True, "reason": "no_certificate", "cert": None}
    try:
        certs, _fmt = _x509.load_certificates(data, params["cert_path"])
    except CertificateError as exc:
        return {"description": None, "due": True, "reason": "unreadable_certificate", "cert": None, "error": str(exc)}
    leaf = certs[0]
    desc = _x509.describe(leaf, params["cert_path"], policy)
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
    if reason is None and params.get("key_path") and not params.get("csr_path") and not params.get("csr_content"):
        key_data = _read(params["key_path"])
        try:
            if key_data is None or not _x509.public_key_matches(leaf, _x509.load_private_key(key_data, params["key_path"])):
                reason = "key_mismatch"
        except CertificateError:
            reason = "key_mismatch"
    return {"description": desc, "due": reason is not None, "reason": reason or "not_due", "cert": leaf}


# --------------------------------------------------------------------------- run


def _account_key(params: t.Mapping[str, t.Any], check_mode: bool) -> tuple[bytes | None, bool]:
    content = params.get("account_key_content")
    if content:
        return content.encode() if isinstance(content, str) else bytes(content), False
    path = params.get("account_key_path")
    if not path:
        raise InputError("give account_key_content or account_key_path (a new key is created at the path if missing)")
    data = _read(path)
    if data is not None:
        return data, False
    if check_mode:
        return None, True
    _check_dir(path, "account_key_path")
    atomic_write(path, _keys.key_to_pem(_keys.generate_key("ec-p256")), 0o600)
    return _read(path), True


def run(params: t.Mapping[str, t.Any], check_mode: bool = False) -> dict[str, t.Any]:
    """Issue or renew per *params* (the module options); returns the module result (see RETURN)."""
    require("cryptography")
    started = time.monotonic()
    timings: dict[str, float] = {}
    warnings: list[str] = []

    # 1. inputs, before any network
    csr_der = None
    csr_data = params.get("csr_content")
    if csr_data is None and params.get("csr_path"):
        csr_data = _read(params["csr_path"])
        if csr_data is None:
            raise InputError("csr_path %s does not exist" % params["csr_path"])
    names = normalize_names(params.get("names") or [])
    if csr_data is not None:
        raw = csr_data.encode() if isinstance(csr_data, str) else csr_data
        csr_der, csr_names = _keys.load_csr(raw, "csr_path %s" % params["csr_path"] if params.get("csr_path") else "csr_content")
        csr_names = normalize_names(csr_names)
        if names and set(names) != set(csr_names):
            raise InputError("names (%s) differ from the names in the CSR (%s); drop names or fix the CSR"
                             % (", ".join(names), ", ".join(csr_names)))
        names = csr_names
    if not names:
        raise InputError("give the certificate's names in names (or a CSR in csr_content / csr_path)")
    check_allowed(names, params.get("allowed_domains"))
    provider_class(params.get("dns_provider"))
    for option in ("cert_path", "key_path", "chain_path", "fullchain_path"):
        _check_dir(params.get(option), option)
    if csr_der is None and not params.get("key_path"):
        raise InputError("key_path is required unless a CSR is given (the key is generated there)")
    policy = _policy.Policy.from_options(params)
    deadline = time.monotonic() + float(params.get("timeout") or 300)
    provider = make_provider(params["dns_provider"], params.get(params["dns_provider"]), deadline)  # no network
    lookup = Lookup(params.get("nameservers") or None)

    # 2. decision
    state = existing_state(params, names, policy)
    result: dict[str, t.Any] = {
        "changed": False, "renewed": False, "reason": state["reason"], "names": names,
        "certificate": state["description"], "previous": state["description"], "ari": None,
        "timings": timings, "account_uri": None, "order_url": None, "chain_issuer": None,
        "dns_records": [], "warnings": warnings,
    }
    account_pem, _created = _account_key(params, check_mode)
    client = None
    replaces = None
    if state["cert"] is not None and params.get("ari", True) and account_pem is not None:
        client = AcmeClient(params["acme_directory"], account_pem, params.get("acme_ca_bundle"),
                            RetryPolicy(deadline=deadline))
        try:
            info = client.renewal_info(state["cert"])
        except CertsError as exc:
            warnings.append("ARI (renewalInfo) was not usable, the local policy decided: %s" % exc)
            info = None
        if info is not None:
            result["ari"] = {"cert_id": info["cert_id"], "window_start": iso(info["start"]),
                             "window_end": iso(info["end"]), "explanation_url": info.get("explanation_url")}
            replaces = info["cert_id"]
            started_window = in_window(info, policy.now)
            result["ari"]["in_window"] = started_window
            if started_window and not state["due"]:
                state.update(due=True, reason="ari_window")
            elif (state["due"] and state["reason"] == "renewal_window" and not started_window
                  and state["description"]["status"] == "due"):
                # the CA's window has not opened yet and the certificate is not in danger: wait for it
                state.update(due=False, reason="ari_window_not_started")
    elif state["cert"] is not None:
        try:
            replaces = cert_id(state["cert"])
        except CertsError:
            replaces = None
    result["reason"] = state["reason"]
    if not state["due"]:
        timings["total"] = round(time.monotonic() - started, 3)
        return result
    if check_mode:
        result["changed"] = True
        timings["total"] = round(time.monotonic() - started, 3)
        return result

    # 3. key, CSR
    key_pem = None
    if csr_der is None:
        existing_key = _read(params["key_path"]) if params.get("reuse_key") else None
        if existing_key is not None:
            key = _x509.load_private_key(existing_key, params["key_path"])
        else:
            key = _keys.generate_key(params.get("key_type") or "ec-p256")
        key_pem = _keys.key_to_pem(key)
        csr_der = _keys.build_csr(key, names)

    # 4. ACME
    if client is None:
        client = AcmeClient(params["acme_directory"], t.cast(bytes, account_pem), params.get("acme_ca_bundle"),
                            RetryPolicy(deadline=deadline))
    result["account_uri"] = client.ensure_account(params.get("account_email"), bool(params.get("terms_agreed")),
                                                  params.get("eab_kid"), params.get("eab_hmac_key"))
    profile = params.get("profile")
    if profile:
        offered = client.profiles()
        if not offered:
            warnings.append("the CA offers no profiles; ordered without profile %r" % profile)
            profile = None
        elif profile not in offered:
            raise InputError("the CA offers no profile %r (offered: %s)" % (profile, ", ".join(sorted(offered))))
    if replaces and not client.has("renewalInfo"):
        replaces = None
    issued = obtain(client, provider, lookup, names, csr_der, timings,
                    propagation_timeout=float(params.get("propagation_timeout") or 120),
                    profile=profile, replaces=replaces, preferred_chain=params.get("preferred_chain"))
    warnings.extend(issued.warnings)

    # 5. verify, write
    leaf = _x509.load_certificates(issued.leaf_pem.encode(), "the issued certificate")[0][0]
    if key_pem is not None and not _x509.public_key_matches(leaf, _x509.load_private_key(key_pem, "new key")):
        raise CertificateError("the CA issued a certificate for another key; nothing was written")
    missing = _x509.names_cover(leaf, names)
    if missing:
        raise CertificateError("the issued certificate lacks %s; nothing was written" % ", ".join(missing))
    files: list[tuple[str, bytes, int]] = []
    if key_pem is not None:
        files.append((params["key_path"], key_pem, 0o600))
    if params.get("chain_path"):
        files.append((params["chain_path"], issued.chain_pem.encode(), 0o644))
    if params.get("fullchain_path"):
        files.append((params["fullchain_path"], issued.fullchain_pem.encode(), 0o644))
    files.append((params["cert_path"], issued.leaf_pem.encode(), 0o644))
    write_files(files)

    timings["total"] = round(time.monotonic() - started, 3)
    description = _x509.describe(leaf, params["cert_path"], _policy.Policy.from_options({**params, "force": False, "now": None}))
    result.update(
        changed=True, renewed=True, certificate=description, order_url=issued.order_url,
        chain_issuer=issued.chain_issuer, dns_records=issued.records,
    )
    result["renewal_log"] = {
        "event": "certificate_renewed",
        "cert_id": _safe_cert_id(leaf),
        "names": names,
        "renewal_time": iso(_dt.datetime.now(_dt.timezone.utc)),
        "next_expiry": description["not_after"],
        "serial": description["serial"],
        "duration": timings["total"],
        "reason": result["reason"],
    }
    return result


def _safe_cert_id(cert: t.Any) -> str | None:
    try:
        return cert_id(cert)
    except CertsError:
        return None


def log_line(result: t.Mapping[str, t.Any]) -> str:
    """The one structured JSON line logged per renewal."""
    return json.dumps(result.get("renewal_log") or {}, sort_keys=True)
