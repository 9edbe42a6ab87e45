# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ACME Renewal Information (RFC 9773) for many certificates at once, without an account.

``GET <directory>`` then ``GET <renewalInfo>/<certID>`` per certificate, over plain HTTPS, a few at a
time; each answer is cached in a JSON file until its ``Retry-After`` passes (6 h when the CA sends
none, 24 h at most). A CA without ``renewalInfo``, or any failure (HTTP error, timeout, bad JSON), gives
``{"due": False, "error": ...}`` for that certificate: the caller warns and decides by its local policy.
Used by the renew playbook (``renew_orders`` state=observed, cache in the renew_store) and the agent.
"""

from __future__ import annotations

import concurrent.futures
import datetime as _dt
import json
import re
import ssl
import time
import typing as t
import urllib.error
import urllib.request

from .._acme.ari import parse_window
from .._acme.retry import parse_retry_after
from .._durable import write_atomic
from .._errors import CertsError
from .._time import UTC, iso, parse_time

DEFAULT_RETRY = 6 * 3600.0
MAX_RETRY = 24 * 3600.0
WORKERS = 8
USER_AGENT = "ghostguard.certs ari"
_CERT_ID = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


class _Failed(Exception):
    """One request that gave no usable answer; the message says what and where."""


def _now(now: t.Any) -> _dt.datetime:
    if now is None:
        return _dt.datetime.now(UTC)
    if isinstance(now, (int, float)):
        return _dt.datetime.fromtimestamp(now, UTC)
    return parse_time(now, "now")


def _context(ca_bundle: str | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    except (OSError, ssl.SSLError) as exc:
        raise _Failed("the CA bundle %s is unusable (%s)" % (ca_bundle, exc)) from None


def _get(url: str, context: ssl.SSLContext, timeout: float) -> tuple[t.Any, str | None]:
    """The JSON body and the Retry-After header of ``GET url``; _Failed on anything else."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
        with opener.open(request, timeout=timeout) as response:
            body = response.read(1 << 20)
            retry_after = response.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        raise _Failed("HTTP %d from %s" % (exc.code, url)) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise _Failed("%s failed: %s" % (url, str(reason).splitlines()[0][:200] or type(reason).__name__)) from None
    try:
        return json.loads(body.decode("utf-8")), retry_after
    except ValueError:
        raise _Failed("the answer of %s is not JSON" % url) from None


def renewal_info_url(directory: str, ca_bundle: str | None = None, timeout: float = 10) -> str:
    """The CA's ``renewalInfo`` URL from its directory; _Failed when the CA has none or does not answer."""
    body = _get(directory, _context(ca_bundle), timeout)[0]
    url = body.get("renewalInfo") if isinstance(body, dict) else None
    if not isinstance(url, str) or not url:
        raise _Failed("the CA at %s offers no ARI (no renewalInfo in its directory)" % directory)
    return url


def _fetch(base: str, ident: str, context: ssl.SSLContext, timeout: float, fetched: float) -> dict[str, t.Any]:
    body, retry_after = _get(base.rstrip("/") + "/" + ident, context, timeout)
    if not isinstance(body, dict):
        raise _Failed("the renewalInfo answer for %s is not a JSON object" % ident)
    try:
        window = parse_window(body)
    except CertsError as exc:
        raise _Failed("%s (certificate %s)" % (exc, ident)) from None
    delay = parse_retry_after(retry_after)
    delay = DEFAULT_RETRY if delay is None else min(delay, MAX_RETRY)
    return {"start": iso(window["start"]), "end": iso(window["end"]),
            "explanation_url": window.get("explanation_url"), "retry_after": int(fetched + delay)}


def _entry(window: t.Mapping[str, t.Any], now: _dt.datetime, cached: bool) -> dict[str, t.Any]:
    start = parse_time(window["start"], "ARI window start")
    return {"start": window["start"], "end": window["end"], "due": start <= now,
            "retry_after": window["retry_after"], "explanation_url": window.get("explanation_url"),
            "error": None, "cached": cached}


def _failed(message: str) -> dict[str, t.Any]:
    return {"start": None, "end": None, "due": False, "retry_after": None, "explanation_url": None,
            "error": message, "cached": False}


def load_cache(path: str | None) -> dict[str, dict[str, t.Any]]:
    """The cache file's entries (``"<directory> <cert id>"`` -> window); empty when missing or unreadable."""
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def _save_cache(path: str, fresh: dict[str, dict[str, t.Any]], now: float) -> None:
    merged = {k: v for k, v in load_cache(path).items() if float(v.get("retry_after") or 0) > now}
    merged.update(fresh)
    write_atomic(path, json.dumps(merged, indent=1, sort_keys=True).encode("utf-8"), 0o600)


def windows(cert_ids: t.Iterable[str], directory: str, ca_bundle: str | None = None, cache_path: str | None = None,
            now: t.Any = None, timeout: float = 10) -> dict[str, dict[str, t.Any]]:
    """The CA's suggested renewal window of each certificate (by RFC 9773 certificate id).

    Returns ``{cert_id: {start, end, due, retry_after, explanation_url, error, cached}}``: *start* and
    *end* ISO 8601 UTC, *due* = the window has started at *now* (datetime or epoch; default the clock),
    *retry_after* the epoch second before which the CA is not asked again. On failure *error* says why,
    *due* is False and the other keys are None.
    """
    moment = _now(now)
    clock = time.time()
    cache = load_cache(cache_path)
    out: dict[str, dict[str, t.Any]] = {}
    todo: list[str] = []
    for ident in dict.fromkeys(cert_ids):
        hit = cache.get(directory + " " + ident)
        if not _CERT_ID.match(ident):
            out[ident] = _failed("%r is not an ARI certificate id (base64url AKI '.' base64url serial)" % ident)
        elif hit and float(hit.get("retry_after") or 0) > clock:
            out[ident] = _entry(hit, moment, cached=True)
        else:
            todo.append(ident)
    if not todo:
        return out
    try:
        context = _context(ca_bundle)
        base = renewal_info_url(directory, ca_bundle, timeout)
    except _Failed as exc:
        out.update({ident: _failed(str(exc)) for ident in todo})
        return out
    fresh: dict[str, dict[str, t.Any]] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(WORKERS, len(todo))) as pool:
        futures = {ident: pool.submit(_fetch, base, ident, context, timeout, clock) for ident in todo}
        for ident, future in futures.items():
            try:
                fresh[directory + " " + ident] = window = future.result()
            except _Failed as exc:
                out[ident] = _failed(str(exc))
                continue
            out[ident] = _entry(window, moment, cached=False)
    if cache_path and fresh:
        _save_cache(cache_path, fresh, clock)
    return out


def fleet_windows(groups: t.Iterable[t.Mapping[str, t.Any]], cache_path: str | None = None, now: t.Any = None,
                  timeout: float = 10) -> tuple[dict[str, dict[str, t.Any]], list[str]]:
    """The windows of a fleet's certificates, asked of each CA (*groups*: ``{directory, ca_bundle, cert_ids}``),
    and one warning per CA and kind of failure (not per certificate): those certificates are left to the local
    policy. Used by the ``renew_orders`` module and the ``ari_windows`` lookup."""
    found: dict[str, dict[str, t.Any]] = {}
    warnings = []
    for group in groups:
        got = windows(group["cert_ids"], group["directory"], group.get("ca_bundle"), cache_path, now=now,
                      timeout=timeout)
        kinds: dict[str, list[str]] = {}
        for window in got.values():
            if window["error"]:  # the URL in the message names the certificate: group by what went wrong
                kinds.setdefault(str(window["error"]).split(" from ", maxsplit=1)[0], []).append(window["error"])
        for kind, errors in sorted(kinds.items()):
            warnings.append("ARI of %s: %d certificate(s): %s%s; they are decided by the local policy"
                            % (group["directory"], len(errors), kind if len(errors) > 1 else errors[0],
                               " (a certificate this CA did not issue is unknown to it)" if "404" in kind else ""))
        found.update(got)
    return found, warnings
