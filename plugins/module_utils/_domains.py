# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Certificate names: the rules a CA holds them to, their A-label form, the registered domain, and the
``allowed_domains`` allowlist (plain Python: the agent checks ASCII names on every run with nothing more).

Every name that enters (the inventory, acme_dns01, csr, the plan) goes through :func:`name_problem` /
:func:`to_ascii`: lowercase, one trailing dot dropped, Unicode labels converted to A-labels with the ``idna``
library (IDNA 2008 with the UTS 46 mapping; Python's own ``idna`` codec is IDNA 2003 and maps some names
differently, ``faß.de`` among them). A name a CA would refuse is refused here, with the reason: an IP
address, a single label, an empty label, a label over 63 or a name over 253 characters, a character other
than letters, digits and hyphens (an underscore above all), a hyphen at either end of a label, ``??--`` that is
not a valid A-label, a wildcard anywhere but as the whole first label, and a name that is (or a wildcard over)
a public suffix of the ICANN section of the Public Suffix List, as Let's Encrypt refuses ``com.cn`` and ``*.com``.

The registered domain (the scope of the CA's per-domain limit) comes from the Public Suffix List shipped
with ``publicsuffixlist`` (nothing is downloaded): ``api.example.com.cn`` counts against ``example.com.cn``.
"""

from __future__ import annotations

import re
import typing as t

from ._errors import InputError

_LDH = re.compile(r"^[a-z0-9-]+$")
_DOTS = re.compile("[\u002e\u3002\uff0e\uff61]")  # the full stops UTS 46 maps to "."
MAX_NAME = 253
MAX_LABEL = 63
_IP_LIKE = re.compile(r"^\[?[0-9a-fA-F:.]+\]?$")
_PSL: dict[bool, t.Any] = {}  # only_icann -> PublicSuffixList, built on first use
_REGISTERED: dict[str, str] = {}  # name -> registered domain (the budget asks for each ledger entry again)


def require(*features: str) -> None:
    """_deps.require, imported on first use (the agent checks ASCII names on every run without it)."""
    from ._deps import require as _require

    _require(*features)


def available(feature: str) -> bool:
    from ._deps import available as _available

    return _available(feature)


def _psl(icann: bool) -> t.Any:
    if icann not in _PSL:
        require("psl")
        from publicsuffixlist import PublicSuffixList

        _PSL[icann] = PublicSuffixList(only_icann=icann)
    return _PSL[icann]


def load_rules() -> None:
    """Load what every name rule needs (``idna``, the Public Suffix List); MissingLibraryError names what is missing.
    The controller's inventory checks call it first, so that :func:`name_problem` applies every rule there."""
    require("idna", "psl")
    _psl(True)


def _ascii_label(label: str) -> str:
    """One label in A-label form (IDNA 2008 + UTS 46); ValueError with the library's reason."""
    if label.isascii():
        return label.lower()
    require("idna")
    import idna

    try:
        return str(idna.alabel(idna.uts46_remap(label, std3_rules=False, transitional=False)).decode("ascii"))
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(str(exc) or exc.__class__.__name__) from None


def _split(raw: t.Any) -> tuple[str, list[str]]:
    """(the name as given, stripped; its labels with Unicode full stops as dots and one trailing dot dropped)."""
    text = str(raw).strip()
    dotted = _DOTS.sub(".", text)
    if dotted.endswith(".") and not dotted.endswith(".."):
        dotted = dotted[:-1]
    return text, dotted.split(".")


def _label_problem(label: str, index: int) -> str | None:
    """Why one label (A-label form) is refused, or None."""
    if label == "":
        return "it has an empty label (two dots in a row, or a leading dot)"
    if "*" in label:
        if label == "*" and index == 0:
            return None
        return "a wildcard is allowed only as the whole first label, like *.example.com"
    return _ldh_problem(label) or _reserved_problem(label)


def _ldh_problem(label: str) -> str | None:
    """Why a label breaks the letters-digits-hyphens rule or the label length, or None."""
    if "_" in label:
        return "the label %r has an underscore, which CAs refuse in certificate names (use a hyphen)" % label
    if not _LDH.match(label):
        bad = next(c for c in label if not _LDH.match(c))
        return "the label %r has the character %r; a DNS name has letters, digits and hyphens only" % (label, bad)
    if label.startswith("-") or label.endswith("-"):
        return "the label %r starts or ends with a hyphen" % label
    if len(label) > MAX_LABEL:
        return "the label %r is %d characters long (at most %d)" % (label, len(label), MAX_LABEL)
    return None


def _reserved_problem(label: str) -> str | None:
    """Why a label with hyphens in the 3rd and 4th places is refused (not xn--, or not a valid A-label), or None."""
    if label[2:4] != "--":
        return None
    if not label.startswith("xn--"):
        return "the label %r has hyphens in the 3rd and 4th places, reserved for A-labels (xn--)" % label
    if available("idna"):
        import idna

        try:
            idna.decode(label)
        except (idna.IDNAError, UnicodeError) as exc:
            return "the label %r is not a valid A-label (IDNA 2008): %s" % (label, exc)
    return None


def _suffix_problem(labels: list[str]) -> str | None:
    """Why a name (A-labels) that is, or is a wildcard over, a public suffix of the ICANN section is refused."""
    base = ".".join(labels[1:] if labels[0] == "*" else labels)
    if not _psl(True).is_public(base):
        return None
    if labels[0] == "*":
        return "a wildcard over %s, a public suffix (Public Suffix List): CAs issue only below a registered domain, " \
               "like *.example.%s" % (base, base)
    return "%s is a public suffix (Public Suffix List): CAs issue only for names below it, like example.%s" % (base, base)


def _ip_problem(text: str) -> str | None:
    """Why *text* is refused when it is an IP address (certificates here are for DNS names), or None."""
    if not _IP_LIKE.match(text):
        return None
    import ipaddress

    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    return "%r is an IP address: certificates here are for DNS names; use a DNS name that resolves to it" % text


def _checked_label(label: str, index: int) -> tuple[str, str | None]:
    """One label as given: (its A-label form, why it is refused or None)."""
    if label == "" or "*" in label or "_" in label:
        return label.lower(), _label_problem(label.lower(), index)
    try:
        alabel = _ascii_label(label)
    except ValueError as exc:
        return label, "the label %r has no A-label form (IDNA 2008 with UTS 46 mapping): %s" % (label, exc)
    return alabel, _label_problem(alabel, index)


def _shape_problem(converted: list[str]) -> str | None:
    """Why a name of valid labels (A-labels) is refused: too few labels, too long, an all-digit last label; or None."""
    base = converted[1:] if converted[0] == "*" else converted
    if len(base) < 2:
        if converted[0] == "*" and base:
            return "a wildcard over the top-level domain %r; CAs issue only below a registered domain" % ".".join(base)
        return "it needs at least two labels, like host.example.com"
    name = ".".join(converted)
    if len(name) > MAX_NAME:
        return "it is %d characters long in A-label form (at most %d)" % (len(name), MAX_NAME)
    if converted[-1].isdigit():
        return "its last label %r is all digits, not a top-level domain" % converted[-1]
    return None


def name_problem(raw: t.Any, suffixes: bool | None = True) -> str | None:
    """Why a CA would refuse *raw* as a certificate name (the reason starts with the name), or None.

    *suffixes*: check the Public Suffix List (True: always, loading it; None: when this process has loaded it, as
    the controller's checks do with :func:`load_rules`, while the agent and modules on hosts re-checking names the
    controller checked are spared loading it). A Unicode name needs ``idna``."""
    text, labels = _split(raw)
    if not text:
        return "an empty name is not a DNS name"
    why = _ip_problem(text)
    if why:
        return why
    refused = "%r is not a DNS name a CA issues for: " % text
    converted: list[str] = []
    for index, label in enumerate(labels):
        alabel, why = _checked_label(label, index)
        if why:
            return refused + why
        converted.append(alabel)
    why = _shape_problem(converted)
    if why:
        return refused + why
    if suffixes or (suffixes is None and True in _PSL):
        why = _suffix_problem(converted)
        if why:
            return refused + why
    return None


def ascii_form(raw: t.Any) -> str:
    """*raw* in A-label form: lowercase, no trailing dot, Unicode labels converted (no CA rule checked)."""
    _text, labels = _split(raw)
    try:
        return ".".join(label if label == "*" else _ascii_label(label) for label in labels)
    except ValueError:
        return str(raw).strip().rstrip(".").lower()


def to_ascii(raw: t.Any, suffixes: bool | None = True) -> str:
    """*raw* in A-label form; :class:`InputError` with the reason when a CA would refuse it."""
    why = name_problem(raw, suffixes)
    if why:
        raise InputError(why + "; fix the name", name=str(raw))
    return ascii_form(raw)


def to_unicode(name: str) -> str:
    """The Unicode form of an A-label name (*name* itself when it has no xn-- label or idna is missing)."""
    if "xn--" not in name or not available("idna"):
        return name
    import idna

    try:
        return ".".join(label if label == "*" else idna.decode(label) for label in name.split("."))
    except (idna.IDNAError, UnicodeError):
        return name


def display(name: str) -> str:
    """How plans and reports show a name: ``xn--bcher-kva.example (bücher.example)`` for an IDN, else the name."""
    unicode = to_unicode(name)
    return name if unicode == name else "%s (%s)" % (name, unicode)


def registered_domain(name: str) -> str:
    """The registered domain of *name* (A-label form) by the Public Suffix List, both sections, as Let's Encrypt
    counts its per-domain limit: ``api.example.com.cn`` -> ``example.com.cn``, ``a.b.github.io`` -> ``b.github.io``.
    A name that is itself a public suffix counts as itself."""
    if name not in _REGISTERED:
        base = ascii_form(name)
        base = base[2:] if base.startswith("*.") else base
        _REGISTERED[name] = str(_psl(False).privatesuffix(base) or base)
    return _REGISTERED[name]


def _ascii_pattern(raw: str) -> str:
    """An allowlist pattern with its Unicode labels as A-labels (labels with shell wildcards stay as given)."""
    _text, labels = _split(raw)
    out = []
    for label in labels:
        try:
            out.append(label.lower() if any(c in label for c in "*?[") else _ascii_label(label))
        except ValueError:
            out.append(label.lower())
    return ".".join(out)


def allowed(name: str, patterns: t.Sequence[str]) -> bool:
    """``example.com`` allows exactly that name; ``*.example.com`` allows every name below it
    (wildcards included); other shell patterns (``shop-*.example.com``) match with fnmatch. Unicode
    names and patterns are compared in A-label form."""
    import fnmatch

    name = ascii_form(name)
    for raw in patterns:
        pattern = _ascii_pattern(str(raw)) if str(raw).strip() else ""
        if not pattern:
            continue
        if pattern.startswith("*.") and name.endswith(pattern[1:]) and len(name) > len(pattern) - 1:
            return True
        if name == pattern or (any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(name, pattern)):
            return True
    return False
