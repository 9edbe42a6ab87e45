# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The optional Python libraries of the engine, and the one way a missing one is reported.

Modules must import on a host that lacks a library (ansible-test's import test, a host that only
runs ``expiry_info``), so engine files import third-party names inside ``try``/``except
ImportError`` and say nothing themselves.  Before such names are used, the caller asks
:func:`require` for the *features* it needs; a missing or too old library raises
:class:`MissingLibraryError` naming every missing distribution and the exact ``pip install`` line
for the interpreter that runs the code.  Modules turn it into ``fail_json`` like any
:class:`CertsError`.

The requirement specifiers below are the collection's runtime requirements: ``requirements.txt``
(what an execution environment installs) lists exactly these, a unit test keeps them equal.

Libraries are probed lazily, on the first :func:`require` or :func:`available` of a feature, so a
module imports only what its work needs.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import shlex
import sys
import typing as t

from ._errors import MissingLibraryError


@dataclasses.dataclass(frozen=True)
class Library:
    """One feature: the imports that tell whether it works and the distributions that provide them."""

    feature: str
    purpose: str
    imports: tuple[tuple[str, str], ...]  # (module imported to tell, pip requirement of its distribution)

    @property
    def requirements(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(req for _module, req in self.imports))


LIBRARIES: dict[str, Library] = {
    lib.feature: lib
    for lib in (
        Library("cryptography", "certificates, keys and CSRs", (
            ("cryptography.x509", "cryptography>=3.4"),
            ("cryptography.hazmat.primitives.asymmetric.ed448", "cryptography>=3.4"),
        )),
        Library("acme", "ACME orders", (
            ("acme.client", "acme>=4.0"),
            ("acme.messages", "acme>=4.0"),
            ("josepy", "josepy>=2.0"),
            ("requests", "requests>=2.20"),
        )),
        Library("dnspython", "DNS lookups and RFC 2136 updates", (
            ("dns.resolver", "dnspython>=2.0"),
            ("dns.update", "dnspython>=2.0"),
            ("dns.tsigkeyring", "dnspython>=2.0"),
        )),
        Library("aliyun", "Alibaba Cloud DNS (dns_provider=alidns)", (
            ("aliyunsdkcore.client", "aliyun-python-sdk-core>=2.13.5"),
            ("aliyunsdkalidns.request.v20150109.AddDomainRecordRequest", "aliyun-python-sdk-alidns>=3.0"),
        )),
        Library("idna", "Unicode domain names (IDNA 2008 with UTS 46 mapping)", (
            ("idna", "idna>=3.0"),
        )),
        Library("psl", "the Public Suffix List (registered domains, names a CA refuses)", (
            ("publicsuffixlist", "publicsuffixlist>=0.10"),
        )),
        Library("jmespath", "JMESPath queries in the report filters", (
            ("jmespath", "jmespath>=1.0"),
        )),
    )
}

_REQ = re.compile(r"^([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)$")
_probed: dict[str, list[tuple[str, str]]] = {}  # feature -> [(requirement, why it is not usable)]


def _distribution(requirement: str) -> str:
    match = _REQ.match(requirement)
    return match.group(1) if match else requirement


def _version_tuple(text: str) -> tuple[int, ...]:
    match = re.match(r"^(\d+(?:\.\d+)*)", text.strip())
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def _too_old(requirement: str) -> str | None:
    """Why the installed distribution is older than *requirement*, or None (also when unknown)."""
    match = _REQ.match(requirement)
    if match is None:
        return None
    try:
        from importlib import metadata
        installed = metadata.version(match.group(1))
    except Exception:  # no metadata (vendored, built from source): the import worked, trust it
        return None
    have, need = _version_tuple(installed), _version_tuple(match.group(2))
    if have and have < need:
        return "%s %s is installed, %s is needed" % (match.group(1), installed, requirement)
    return None


def _problems(feature: str) -> list[tuple[str, str]]:
    if feature not in LIBRARIES:
        raise ValueError("unknown library feature %r; known: %s" % (feature, ", ".join(sorted(LIBRARIES))))
    if feature not in _probed:
        problems: list[tuple[str, str]] = []
        for module, requirement in LIBRARIES[feature].imports:
            if any(req == requirement for req, _why in problems):
                continue
            try:
                importlib.import_module(module)
            except ImportError as exc:
                problems.append((requirement, "%s (%s)" % (exc.__class__.__name__, exc)))
                continue
            old = _too_old(requirement)
            if old:
                problems.append((requirement, old))
        _probed[feature] = problems
    return _probed[feature]


def available(feature: str) -> bool:
    """Whether every library of *feature* imports (and is recent enough)."""
    return not _problems(feature)


def pip_line(requirements: t.Sequence[str]) -> str:
    """The exact command that installs *requirements* for the interpreter running this code."""
    python = sys.executable or "python3"
    return "%s -m pip install %s" % (shlex.quote(python), " ".join(shlex.quote(r) for r in requirements))


def require(*features: str) -> None:
    """Raise :class:`MissingLibraryError` naming every missing library of *features* at once."""
    missing: list[tuple[str, str]] = []
    purposes: list[str] = []
    for feature in features:
        problems = _problems(feature)
        if problems:
            purposes.append(LIBRARIES[feature].purpose)
            missing += [p for p in problems if p not in missing]
    if not missing:
        return
    requirements = [req for req, _why in missing]
    names = [_distribution(req) for req in requirements]
    line = pip_line(requirements)
    raise MissingLibraryError(
        "the Python %s %s (needed for %s) %s not usable by %s: %s. Install %s for that interpreter with: %s "
        "(an execution environment gets every library from the collection's requirements.txt)"
        % ("library" if len(names) == 1 else "libraries", ", ".join(names), "; ".join(purposes),
           "is" if len(names) == 1 else "are", sys.executable or "this Python",
           "; ".join(why for _req, why in missing), "it" if len(names) == 1 else "them", line),
        missing=names, requirements=requirements, pip_install=line,
    )


# Where the certwatch role installs the agent's command by default (its certwatch_bin).
AGENT_COMMAND = "/usr/local/bin/certwatch"


def agent_interpreter(command: str = AGENT_COMMAND) -> str | None:
    """The Python of the certwatch agent installed on this host (the interpreter on the ``#!`` line of its
    *command*: the role's venv, which holds cryptography), when it exists and is not the one running now."""
    try:
        with open(command, "rb") as handle:
            first = handle.readline(1024)
    except OSError:
        return None
    words = first[2:].decode("utf-8", "replace").split() if first.startswith(b"#!") else []
    if not words or not os.path.isabs(words[0]) or not os.access(words[0], os.X_OK):
        return None
    if os.path.normpath(words[0]) == os.path.normpath(sys.executable or ""):
        return None
    return words[0]


def forget() -> None:
    """Probe again on the next :func:`require` (after installing a library in the same process)."""
    _probed.clear()
