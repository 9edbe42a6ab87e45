# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Roll back (or forward) through the generation store: make another kept generation current again.

A rollback makes the generation before the current one current and keeps the one it leaves, marked
(:meth:`._store.Store.retire`, before the switch), for a roll forward: ``forward`` makes the next newer
generation a rollback left current again.  Those are kept until the next install of a new generation
(which discards them) or until ``keep`` prunes them, so two rollbacks in a row go two generations back
and two roll forwards return.  With ``from_fingerprint``, nothing happens unless the current generation
holds that certificate (a rerun of the same step changes nothing).  A generation is restored only when
it is one consistent certificate with its key and chain.  Plain Python, no Ansible import.
"""

from __future__ import annotations

import os

from .. import _x509
from .._durable import locked, os_error
from .._errors import CertificateError, FileSystemError
from . import adopt as _adopt
from .bundle import ROLES, diff_view
from .deploy import DeployRequest, DeployResult, describe_cert, publish_generation, recover_leftovers
from .store import FILE_NAMES, Store

__all__ = ["rollback", "target_generation"]


def target_generation(store: Store, current: int, forward: bool) -> int:
    """The generation a rollback (or with *forward*, a roll forward) from *current* makes current."""
    if forward:
        newer = store.retired()
        if not newer:
            raise FileSystemError(
                "nothing to roll forward to: generation %d in %s is the newest kept (a rollback keeps the generation "
                "it leaves until a new certificate is installed)" % (current, store.root), path=store.root)
        return newer[0]
    older = [g for g in store.generations() if g < current]
    if not older:
        raise FileSystemError(
            "nothing to roll back to: generation %d in %s is the oldest kept (the store keeps `keep` generations, "
            "3 by default); deploy the certificate you want with state=present" % (current, store.root),
            path=store.root)
    return older[-1]


def _check_restorable(store: Store, target: int, paths: dict[str, str]) -> None:
    lacking = [role for role in paths if role not in store.roles(target)]
    if lacking:
        raise FileSystemError(
            "generation %d in %s has no %s file (it was issued for a CSR); roll back without %s, or deploy "
            "the previous certificate and its key with state=present"
            % (target, store.root, ", ".join(lacking), ", ".join(r + "_path" for r in lacking)),
            path=store.root,
        )
    try:
        _adopt.check_file_set({role: store.read(target, role) or b"" for role in store.roles(target)},
                              {role: os.path.join(store.gen_dir(target), FILE_NAMES[role]) for role in ROLES})
    except CertificateError as exc:
        raise CertificateError("generation %d in %s is not one consistent certificate, so it is not restored "
                               "(%s); deploy the certificate you want with state=present" % (target, store.root, exc),
                               path=store.gen_dir(target)) from None


def rollback(req: DeployRequest) -> DeployResult:
    """Make the generation before the current one (``req.forward``: the next newer one kept) current."""
    req.targets.check()
    paths = req.targets.paths()
    store = req.targets.new_store()
    policy = req.policy
    cert_path = req.targets.anchor()
    try:
        recover_leftovers(req, store, paths)
        current = store.current()
        if current is None:
            raise FileSystemError(
                "nothing to roll back: %s holds no current generation; deploy a certificate first" % store.root,
                path=store.root,
            )
        current_cert = store.certificate(current)
        current_desc = describe_cert(current_cert, cert_path, policy)
        if req.from_fingerprint:
            wanted = _x509.normalize_fingerprint(req.from_fingerprint)
            if current_cert is None or _x509.fingerprint(current_cert) != wanted:
                return DeployResult(False, current, current, current_desc, current_desc, store.root,
                                    store.generations(), ["current generation is not %s: nothing to roll back" % wanted],
                                    {"before": diff_view(current_cert), "after": diff_view(current_cert)})
        target = target_generation(store, current, req.forward)
        _check_restorable(store, target, paths)
        target_cert = store.certificate(target)
        diff = {"before": diff_view(current_cert), "after": diff_view(target_cert)}
        desc = describe_cert(target_cert, cert_path, policy)
        actions = [("rolled forward to generation %d; generation %d is kept" if req.forward else
                    "made generation %d current again; generation %d is kept for a roll forward") % (target, current)]
        if req.check_mode:
            return DeployResult(True, target, current, desc, current_desc, store.root, store.generations(), actions, diff)
        with locked(store.lock_path):
            store.attach_link()
            if not req.forward:
                store.retire(current)  # before the switch: a kill in between leaves it current, marked for later
            store.switch(target)
            publish_generation(req, store, target, paths)
        return DeployResult(True, target, current, desc, current_desc, store.root, store.generations(), actions, diff)
    except OSError as exc:
        raise os_error("roll back", getattr(exc, "filename", None) or store.root, exc) from None
