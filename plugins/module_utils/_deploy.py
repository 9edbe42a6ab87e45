# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Install a bundle through the generation store, adopt what services read today, roll back.

Service paths (``cert_path``, ``key_path``, ...) become symlinks through the store's ``current`` link,
created once::

    cert_path -> <store>/current/cert.pem
    key_path  -> <store>/current/key.pem

(``store`` defaults to ``<dir of cert_path>/.ghostguard/<name>``.)  Every service path resolves through
the single ``current`` link, so at any instant all of them name files of the same generation: a reader
never finds a new certificate beside an old key, nor a half-written file, even when the process is
killed at any point.

One limit no scheme with two files can lift: a reader that opens the certificate and then the key
*while* ``current`` is being switched may get one of each generation (it then fails to load them;
nginx keeps its old configuration).  Services normally read only after the deploy, when they are
reloaded.  For readers that must be safe even during the switch, ``combined.pem`` (full chain + key
in one file, key mode) is one file: a single open sees one generation, always.

Plain Python, no Ansible import: used by the ``deploy`` and ``acme_dns01`` modules and the host agent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import typing as t

from . import _policy, _x509
from ._bundle import MAX_INPUT_BYTES, ROLES, Bundle, build_bundle, diff_view, read_input, validate_bundle
from ._durable import locked, os_error, read_file
from ._errors import CertificateError, FileSystemError, InputError
from ._store import Attrs, Store, resolve_attrs

if t.TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate

DEFAULT_KEEP = 3


@dataclasses.dataclass
class Targets:
    """The service paths; ``cert`` or ``fullchain`` anchors the store."""

    cert: str | None = None
    key: str | None = None
    chain: str | None = None
    fullchain: str | None = None
    combined: str | None = None
    store: str | None = None
    name: str | None = None

    def paths(self) -> dict[str, str]:
        return {role: p for role in ROLES if (p := getattr(self, role))}

    def anchor(self) -> str:
        anchor = self.cert or self.fullchain or self.combined
        if not anchor:
            raise InputError("give cert_path, fullchain_path or combined_path: the paths your service reads the "
                             "certificate from")
        return anchor

    def store_dir(self) -> str:
        if self.store:
            return os.path.abspath(self.store)
        anchor = os.path.abspath(self.anchor())
        name = self.name or os.path.splitext(os.path.basename(anchor))[0] or "cert"
        return os.path.join(os.path.dirname(anchor), ".ghostguard", name)

    def check(self) -> None:
        paths = self.paths()
        self.anchor()
        seen: dict[str, str] = {}
        for role, path in paths.items():
            if not os.path.isabs(path):
                raise InputError("%s_path %r must be an absolute path" % (role, path))
            real = os.path.abspath(path)
            if real in seen:
                raise InputError("%s_path and %s_path are the same file %s; give each its own path" % (seen[real], role, path))
            seen[real] = role
            if os.path.isdir(path) and not os.path.islink(path):
                raise InputError("%s_path %s is a directory; give the file path the service reads" % (role, path))


@dataclasses.dataclass
class DeployRequest:
    targets: Targets
    bundle: Bundle | None = None
    attrs: Attrs = dataclasses.field(default_factory=Attrs)
    keep: int = DEFAULT_KEEP
    check_mode: bool = False
    policy: _policy.Policy = dataclasses.field(default_factory=_policy.Policy)
    from_fingerprint: str | None = None


@dataclasses.dataclass
class DeployResult:
    changed: bool
    generation: int | None
    previous_generation: int | None
    certificate: dict[str, t.Any] | None
    previous: dict[str, t.Any] | None
    store: str
    generations: list[int]
    actions: list[str]
    diff: dict[str, t.Any]

    def facts(self) -> dict[str, t.Any]:
        return {
            "generation": self.generation,
            "previous_generation": self.previous_generation,
            "certificate": self.certificate,
            "previous": self.previous,
            "store": self.store,
            "generations": self.generations,
            "actions": self.actions,
        }


# --------------------------------------------------------------------------- from plain option values


def _input(options: t.Mapping[str, t.Any], role: str) -> bytes | None:
    content = options.get(role + "_content")
    src = options.get(role + "_src")
    if content is not None and src is not None:
        raise InputError("give %s_content or %s_src, not both" % (role, role))
    if content is not None:
        return content.encode("utf-8") if isinstance(content, str) else bytes(content)
    if src is not None:
        if not options.get("remote_src"):
            raise InputError(
                "%s_src %s is a controller file but the action plugin did not read it; run the module "
                "through ansible, or set remote_src: true for a file on the managed host" % (role, src)
            )
        return read_input(src, role + "_src")
    return None


def request_from_options(options: t.Mapping[str, t.Any], check_mode: bool = False) -> DeployRequest:
    """A :class:`DeployRequest` from plain values named like the ``deploy`` module's options.

    With ``state=present`` (the default) the bundle is read, built and validated here (key match,
    chain, ``expected_names``, validity with ``leeway``): a refusal changes nothing.
    """
    targets = Targets(
        cert=options.get("cert_path"),
        key=options.get("key_path"),
        chain=options.get("chain_path"),
        fullchain=options.get("fullchain_path"),
        combined=options.get("combined_path"),
        store=options.get("store"),
        name=options.get("name"),
    )
    policy = _policy.Policy.from_options({"leeway": options.get("leeway") or "0"})
    keep = options.get("keep")
    request = DeployRequest(
        targets=targets,
        attrs=resolve_attrs(options.get("owner"), options.get("group"), options.get("mode"), options.get("key_mode")),
        keep=DEFAULT_KEEP if keep is None else int(keep),
        check_mode=check_mode,
        policy=policy,
        from_fingerprint=options.get("from_fingerprint"),
    )
    if (options.get("state") or "present") == "present":
        cert, key, chain = _input(options, "cert"), _input(options, "key"), _input(options, "chain")
        if cert is None or key is None:
            raise InputError("state=present needs the certificate and the key: give cert_content or cert_src, and key_content or key_src")
        sources = {role: (role + "_src " + options[role + "_src"]) if options.get(role + "_src") else role + "_content"
                   for role in ("cert", "key", "chain")}
        bundle = build_bundle(cert, key, chain, sources)
        roots = _x509.load_ca_file(options["ca_bundle"]) if options.get("ca_bundle") else None
        validate_bundle(bundle, roots, options.get("expected_names") or (), policy.now, policy.leeway)
        request.bundle = bundle
    return request


# --------------------------------------------------------------------------- deploy and rollback


def _describe(cert: Certificate | None, path: str | None, policy: _policy.Policy) -> dict[str, t.Any] | None:
    return None if cert is None else _x509.describe(cert, path, policy)


def _adopt_files(store: Store, paths: t.Mapping[str, str]) -> dict[str, bytes] | None:
    """Content at service paths that are not yet ours (first deploy over existing files)."""
    found: dict[str, bytes] = {}
    for role, path in paths.items():
        if os.path.islink(path) and os.readlink(path) == store.link_target(path, role):
            continue
        data = read_file(path, MAX_INPUT_BYTES + 1)
        if data is not None:
            found[role] = data
    return found or None


def _recover(req: DeployRequest, store: Store) -> None:
    """Clean what a killed earlier run left in *store* (not in check mode)."""
    if not req.check_mode and store.exists():
        with locked(store.lock_path):
            store.recover()


def _check_roles(bundle: Bundle, paths: t.Mapping[str, str]) -> None:
    if bundle.has_key:
        if "key" not in paths and "combined" not in paths:
            raise InputError("give key_path (or combined_path): the path your service reads the private key from")
        return
    keyed = ["%s_path" % role for role in ("key", "combined") if role in paths]
    if keyed:
        raise InputError("the certificate was issued for a CSR, so this host has no private key to install at %s; "
                         "leave %s out (the key stays where the CSR was made)" % (", ".join(keyed), " and ".join(keyed)))


def deploy(req: DeployRequest) -> DeployResult:
    """Install ``req.bundle`` as a new generation (or report that it already is current)."""
    if req.bundle is None:
        raise InputError("nothing to deploy: give cert_content and key_content, or cert_src and key_src")
    if req.keep < 1:
        raise InputError("keep must be at least 1 (got %d); 3 keeps two generations to roll back to" % req.keep)
    req.targets.check()
    paths = req.targets.paths()
    _check_roles(req.bundle, paths)
    store = Store(req.targets.store_dir())
    files = req.bundle.files()
    policy = req.policy
    new_cert_path = req.targets.cert or req.targets.fullchain or req.targets.combined
    try:
        _recover(req, store)
        current = store.current()
        current_cert = store.certificate(current)
        adopted = _adopt_files(store, paths)
        previous_cert = current_cert
        if adopted is not None and previous_cert is None:
            data = adopted.get("cert") or adopted.get("fullchain") or adopted.get("combined")
            if data:
                with contextlib.suppress(CertificateError):
                    previous_cert = _x509.load_certificates(data, "existing file")[0][0]
        same_content = (
            current is not None
            and adopted is None
            and store.roles(current) == list(files)
            and all(store.read(current, role) == files[role] for role in files)
        )
        same = same_content and store.links_ok(paths)
        diff = {"before": diff_view(previous_cert), "after": diff_view(req.bundle.cert)}
        previous = _describe(previous_cert, new_cert_path, policy)
        certificate = _describe(req.bundle.cert, new_cert_path, policy)
        if same and current is not None:
            actions = []
            changed = False
            if not store.attrs_ok(current, req.attrs):
                actions.append("fixed owner/group/mode of generation %d" % current)
                changed = True
                if not req.check_mode:
                    with locked(store.lock_path):
                        store.fix_attrs(current, req.attrs)
            return DeployResult(changed, current, current, certificate, certificate, store.root,
                                store.generations(), actions, {"before": diff["before"], "after": diff["before"]})
        actions = []
        if same_content and current is not None:
            actions.append("relinked service paths to generation %d" % current)
            if not req.check_mode:
                with locked(store.lock_path):
                    store.link_service_paths(paths)
                    if not store.attrs_ok(current, req.attrs):
                        store.fix_attrs(current, req.attrs)
            return DeployResult(True, current, current, certificate, certificate, store.root,
                                store.generations(), actions, {"before": diff["before"], "after": diff["before"]})
        if req.check_mode:
            number = max(store.generations(), default=0) + 1
            if adopted:
                actions.append("adopt existing files at %s as the previous generation" % ", ".join(sorted(adopted)))
            actions.append("write generation %d and make it current" % number)
            return DeployResult(True, number, current, certificate, previous, store.root, store.generations(),
                                actions, diff)
        store.ensure_root()
        with locked(store.lock_path):
            store.recover()
            current = store.current()
            if adopted:
                # Keep what services read today as a generation of its own, switch to it and only
                # then replace the plain files by links: readers see the same bytes throughout.
                # Paths that are still ours keep showing the current generation's files.
                old = {role: (store.read(current, role) or b"") if current is not None else b"" for role in files}
                old.update(adopted)
                if current is None:
                    if "fullchain" not in adopted and "cert" in adopted:
                        old["fullchain"] = adopted["cert"] + adopted.get("chain", b"")
                    if "cert" not in adopted and "fullchain" in adopted:
                        old["cert"] = adopted["fullchain"]
                    if "combined" not in adopted and "key" in adopted:
                        old["combined"] = old["fullchain"] + adopted["key"]
                adopt_number = store.write_generation(old, req.attrs)
                store.switch(adopt_number)
                store.link_service_paths(paths)
                current = adopt_number
                actions.append("adopted existing files as generation %d" % adopt_number)
            number = store.write_generation(files, req.attrs)
            store.switch(number)
            actions.append("wrote generation %d and made it current" % number)
            linked = store.link_service_paths(paths)
            if linked:
                actions.append("linked %s through %s" % (", ".join(linked), store.current_link))
            pruned = store.prune(req.keep, protect=[number] + ([current] if current is not None else []))
            if pruned:
                actions.append("removed generation(s) %s" % ", ".join(str(p) for p in pruned))
            return DeployResult(True, number, current, certificate, previous, store.root, store.generations(),
                                actions, diff)
    except OSError as exc:
        raise os_error("update", getattr(exc, "filename", None) or store.root, exc) from None


def rollback(req: DeployRequest) -> DeployResult:
    """Make the generation before the current one current again; the abandoned one is removed."""
    req.targets.check()
    paths = req.targets.paths()
    store = Store(req.targets.store_dir())
    policy = req.policy
    cert_path = req.targets.cert or req.targets.fullchain or req.targets.combined
    try:
        _recover(req, store)
        current = store.current()
        if current is None:
            raise FileSystemError(
                "nothing to roll back: %s holds no current generation; deploy a certificate first" % store.root,
                path=store.root,
            )
        current_cert = store.certificate(current)
        current_desc = _describe(current_cert, cert_path, policy)
        if req.from_fingerprint:
            wanted = _x509.normalize_fingerprint(req.from_fingerprint)
            if current_cert is None or _x509.fingerprint(current_cert) != wanted:
                return DeployResult(False, current, current, current_desc, current_desc, store.root,
                                    store.generations(), ["current generation is not %s: nothing to roll back" % wanted],
                                    {"before": diff_view(current_cert), "after": diff_view(current_cert)})
        older = [g for g in store.generations() if g < current]
        if not older:
            raise FileSystemError(
                "nothing to roll back to: generation %d in %s is the only one kept; deploy the previous "
                "certificate again with state=present" % (current, store.root),
                path=store.root,
            )
        target = older[-1]
        lacking = [role for role in paths if role not in store.roles(target)]
        if lacking:
            raise FileSystemError(
                "generation %d in %s has no %s file (it was issued for a CSR); roll back without %s, or deploy "
                "the previous certificate and its key with state=present"
                % (target, store.root, ", ".join(lacking), ", ".join(r + "_path" for r in lacking)),
                path=store.root,
            )
        target_cert = store.certificate(target)
        diff = {"before": diff_view(current_cert), "after": diff_view(target_cert)}
        desc = _describe(target_cert, cert_path, policy)
        actions = ["made generation %d current again, removed generation %d" % (target, current)]
        if req.check_mode:
            return DeployResult(True, target, current, desc, current_desc, store.root, store.generations(), actions, diff)
        with locked(store.lock_path):
            store.switch(target)
            store.link_service_paths(paths)
            store.remove(current)
        return DeployResult(True, target, current, desc, current_desc, store.root, store.generations(), actions, diff)
    except OSError as exc:
        raise os_error("roll back", getattr(exc, "filename", None) or store.root, exc) from None
