# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What is on disk at the service paths, and whether a set of files forms one certificate.

:func:`survey` reads every service path (through links) and tells the paths the store already
accounts for (links through the switching link, or bytes equal to a kept generation's file) from the
foreign ones (a file dropped by hand, certbot's links).  :func:`adoption_set` turns what is on disk
into the files of one generation, and :func:`check_file_set` refuses a set whose certificate, full
chain, chain, combined file and key disagree: deploy never keeps a mixed generation, and rollback never
restores one.
"""

from __future__ import annotations

import dataclasses
import os
import typing as t

from .. import _x509
from .._durable import read_file
from .._errors import CertificateError
from .bundle import MAX_INPUT_BYTES

if t.TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate

    from .store import Store

CERT_ROLES = ("cert", "fullchain", "combined")


@dataclasses.dataclass
class Survey:
    disk: dict[str, bytes]      # role -> bytes at the service path (links followed); missing paths absent
    foreign: list[str]          # roles whose path the store does not account for


def survey(store: Store, paths: t.Mapping[str, str]) -> Survey:
    known: dict[str, set[bytes]] = {}
    disk: dict[str, bytes] = {}
    foreign = []
    for role, path in paths.items():
        data = read_file(path, MAX_INPUT_BYTES + 1)
        if data is None:
            continue
        disk[role] = data
        if os.path.islink(path) and os.readlink(path) == store.link_target(path, role):
            continue
        if not known:  # read the kept generations only when a path is not a link of ours
            for number in store.generations():
                for have in store.roles(number):
                    known.setdefault(have, set()).add(store.read(number, have) or b"")
        if data not in known.get(role, set()):
            foreign.append(role)
    return Survey(disk, foreign)


def labels(paths: t.Mapping[str, str]) -> dict[str, str]:
    return {role: "%s_path %s" % (role, path) for role, path in paths.items()}


def served_certificate(disk: t.Mapping[str, bytes]) -> Certificate | None:
    """The certificate a service reads today (the first certificate file on disk), if any parses."""
    for role in CERT_ROLES:
        if role in disk:
            try:
                return _x509.load_certificates(disk[role], role)[0][0]
            except CertificateError:
                continue
    return None


def _pem(cert: Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(cert.public_bytes(serialization.Encoding.PEM))


def _certs(data: bytes, label: str) -> list[Certificate]:
    try:
        return list(_x509.load_certificates(data, label)[0])
    except CertificateError as exc:
        raise CertificateError("%s does not hold a certificate (%s)" % (label, exc)) from None


def _key_part(data: bytes) -> bytes | None:
    start = data.find(b"-----BEGIN")
    while start != -1:
        if data[start:start + 40].find(b"PRIVATE KEY-----") != -1:
            return data[start:]
        start = data.find(b"-----BEGIN", start + 1)
    return None


def _read_set(files: t.Mapping[str, bytes], labels: t.Mapping[str, str]
              ) -> tuple[dict[str, str], dict[str, list[str]], Certificate | None]:
    """Fingerprints of the set: leaf by certificate role, chain by role, and the first leaf found."""
    leaves: dict[str, str] = {}
    chains: dict[str, list[str]] = {}
    leaf: Certificate | None = None
    for role in CERT_ROLES:
        if role in files:
            certs = _certs(files[role], labels[role])
            leaves[role] = _x509.fingerprint(certs[0])
            leaf = leaf or certs[0]
            if role != "cert":
                chains[role] = [_x509.fingerprint(c) for c in certs[1:]]
    if "chain" in files:
        chains["chain"] = [_x509.fingerprint(c) for c in _certs(files["chain"], labels["chain"])] \
            if files["chain"].strip() else []
    return leaves, chains, leaf


def _check_agreement(leaves: t.Mapping[str, str], chains: t.Mapping[str, list[str]],
                     labels: t.Mapping[str, str]) -> None:
    """Refuse files that hold more than one certificate or more than one chain."""
    if len(set(leaves.values())) > 1:
        raise CertificateError(
            "the files do not hold one certificate: %s; put back files of one certificate (or remove the "
            "odd one out) and run again - nothing was changed"
            % "; ".join("%s holds %s" % (labels[r], fp) for r, fp in leaves.items()))
    if len({tuple(c) for c in chains.values()}) > 1:
        raise CertificateError(
            "the files do not hold one chain: %s; put back files of one certificate and run again - nothing "
            "was changed" % "; ".join("%s has chain [%s]" % (labels[r], ", ".join(c)) for r, c in chains.items()))


def _check_keys(files: t.Mapping[str, bytes], labels: t.Mapping[str, str], leaf: Certificate,
                leaves: t.Mapping[str, str]) -> None:
    """Refuse a key or combined file whose private key is missing or does not belong to *leaf*."""
    for role in ("key", "combined"):
        if role not in files:
            continue
        part = files[role] if role == "key" else _key_part(files[role])
        if part is None:
            raise CertificateError("%s holds no private key; it must hold the full chain followed by the key"
                                   % labels[role])
        key = _x509.load_private_key(part, labels[role])
        if not _x509.public_key_matches(leaf, key):
            first = next(iter(leaves))
            raise CertificateError(
                "%s holds a private key that does not belong to the certificate %s (%s); put back the key of "
                "that certificate and run again - nothing was changed" % (labels[role], leaves[first], labels[first]))


def check_file_set(files: t.Mapping[str, bytes], labels: t.Mapping[str, str]) -> None:
    """Refuse *files* (role -> bytes) unless they form one certificate with its key and chain.

    *labels* names each role's file in the message (``cert_path /etc/tls/site.crt``).
    """
    leaves, chains, leaf = _read_set(files, labels)
    _check_agreement(leaves, chains, labels)
    if leaf is None:
        return
    _check_keys(files, labels, leaf, leaves)


def adoption_set(disk: t.Mapping[str, bytes], base: t.Mapping[str, bytes],
                 labels: t.Mapping[str, str]) -> dict[str, bytes]:
    """The files of a generation holding what *disk* shows, completed from *base* (the current
    generation) only when *base* holds the same certificate; refused when the set is inconsistent."""
    check_file_set(disk, labels)
    leaf_data = next((disk[r] for r in CERT_ROLES if r in disk), None)
    if leaf_data is None:
        raise CertificateError("no certificate at %s to keep as the previous generation; put the certificate "
                               "back or remove the other files" % ", ".join(labels[r] for r in disk))
    certs = _certs(leaf_data, "the certificate")
    out = dict(disk)
    if base and "cert" in base and _x509.fingerprint(_certs(base["cert"], "the current generation")[0]) == \
            _x509.fingerprint(certs[0]):
        for role, data in base.items():
            out.setdefault(role, data)
    if "cert" not in out:
        out["cert"] = _pem(certs[0])
    if "chain" not in out:
        source = out.get("fullchain") or out.get("combined")
        out["chain"] = b"".join(_pem(c) for c in _certs(source, "the full chain")[1:]) if source else b""
    if "fullchain" not in out:
        out["fullchain"] = out["cert"] + out["chain"]
    if "key" not in out and "combined" in out:
        part = _key_part(out["combined"])
        if part:
            out["key"] = part
    if "combined" not in out and "key" in out:
        out["combined"] = out["fullchain"] + out["key"]
    check_file_set(out, {role: labels.get(role, "the %s file" % role) for role in out})
    return out
