# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bundles the ``converge`` module is given: validated from its options, and the staging directory of a
key made on the host removed once the files hold the certificate issued for it.  Plain Python, no Ansible
import; re-exported by :mod:`.converge`."""

from __future__ import annotations

import os
import typing as t

from .. import _x509
from .._durable import read_file
from .._errors import CertsError, InputError
from .observe import policy_of

__all__ = ["bundle_from_options", "discard_staging"]


def bundle_from_options(name: str, options: t.Mapping[str, t.Any], domains: t.Sequence[str] = (),
                        policy: t.Any = None, installed: str | None = None) -> t.Any:
    """A validated bundle from ``{cert_content, chain_content, key_content | key_src_remote}`` (the
    ``converge`` module's ``bundles`` entry): key match, chain links, names cover *domains*, not expired.
    None when the ``key_src_remote`` is gone and the file *installed* holds this certificate already (another
    run installed it and discarded the key it staged: nothing is left to install)."""
    from .bundle import build_bundle, read_input, validate_bundle

    def data(option: str) -> bytes | None:
        value = options.get(option)
        return None if value is None else (value.encode("utf-8") if isinstance(value, str) else bytes(value))

    if options.get("cert_content") is None:
        raise InputError("bundles.%s has no cert_content (or cert_src on the controller)" % name)
    key = data("key_content")
    if key is not None and options.get("key_src_remote"):
        raise InputError("bundles.%s: give key_content (key_src) or key_src_remote, not both" % name)
    if options.get("key_src_remote"):
        if installed and not os.path.exists(str(options["key_src_remote"])) and _holds(installed, data("cert_content")):
            return None
        key = read_input(str(options["key_src_remote"]), "bundles.%s.key_src_remote" % name)
    where = {role: "bundles.%s.%s_content" % (name, role) for role in ("cert", "key", "chain")}
    bundle = build_bundle(t.cast(bytes, data("cert_content")), key, data("chain_content"), where)
    pol = policy_of(policy)
    validate_bundle(bundle, None, list(domains), pol.now, float(pol.leeway))
    return bundle


def _holds(path: str, cert_pem: bytes | None) -> bool:
    """Whether the certificate file *path* holds the leaf *cert_pem*."""
    data = read_file(path)
    try:
        return bool(data and cert_pem) and _x509.fingerprint(_x509.load_certificates(t.cast(bytes, data), path)[0][0]) == \
            _x509.fingerprint(_x509.load_certificates(t.cast(bytes, cert_pem), "cert_content")[0][0])
    except CertsError:
        return False


def discard_staging(bundles: t.Mapping[str, t.Mapping[str, t.Any]], results: t.Sequence[t.Mapping[str, t.Any]]) -> list[str]:
    """Remove the staging directory of each key made on the host (``key_src_remote``) once the files hold the
    certificate issued for it (the key now lives in the generation store); kept while they do not, so that a
    run stopped before the install can still install it. Returns the directories removed."""
    import shutil

    done = {r["name"] for r in results if r.get("attempted_fingerprint") and r["fingerprint"] == r["attempted_fingerprint"]}
    removed = []
    for name, options in bundles.items():
        staged = options.get("key_src_remote")
        if staged and name in done and os.path.basename(os.path.dirname(os.path.dirname(staged))) == ".ghostguard-next":
            shutil.rmtree(os.path.dirname(staged), ignore_errors=True)
            removed.append(os.path.dirname(staged))
    return removed
