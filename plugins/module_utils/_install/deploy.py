# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Install a bundle through the generation store, adopt what services read today, roll back.

Service paths (``cert_path``, ``key_path``, ...) become symlinks through the store's switching link,
a Kubernetes-style ``..<name>.data`` link beside the anchor path (``cert_path``, else ``fullchain_path``
or ``combined_path``)::

    tls/..site.data -> .ghostguard/site/gen-4     switched with one rename(2): the commit point
    tls/site.crt    -> ..site.data/cert.pem
    tls/site.key    -> ..site.data/key.pem
    private/site.key -> ../tls/..site.data/key.pem   (a path in another directory)

(``store`` defaults to ``<dir of the anchor>/.ghostguard/<name>``.)  Every service path resolves
through the one switching link, so at any instant all of them name files of the same generation, even
when the process is killed at any point; and the rename is an event in the service directory, which a
directory-watching service sees.  After the switch each service link is renamed onto itself (same
target): an event in every other directory and under every service file name, with nothing changed
for readers.  A store of the older layout (service paths through ``<store>/current``) is migrated by
the next deploy or rollback, before anything else, without changing what a reader sees.

With ``in_place`` the service paths are regular files rewritten in their own inodes (for services
that watch the files), key first, certificate last (see :func:`._inplace.write_in_place`); the
generations are kept all the same, for rollback.  Files at service paths the store does not account
for are read as they are on disk and kept as a generation of their own - only when they form one
certificate with its key and chain (:mod:`.adopt`); rollback never restores an inconsistent one.

A reader opening the certificate and then the key *while* the link is switched may get one of each
generation; ``combined.pem`` (one file) cannot.  Plain Python, no Ansible import: used by the ``deploy`` and ``acme_dns01`` modules and the host agent.
"""

from __future__ import annotations

import dataclasses
import os
import typing as t

from .. import _policy, _x509
from .._durable import locked, os_error
from .._errors import InputError
from . import adopt as _adopt
from .attrs import Attrs, resolve_attrs
from .bundle import ROLES, Bundle, build_bundle, diff_view, read_input, validate_bundle
from .inplace import files_ok, write_in_place
from .store import Store, link_name, prune_victims

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

    def link_path(self) -> str:
        """The switching link: ``..<store name>.data`` in the directory of the anchor path."""
        return os.path.join(os.path.dirname(os.path.abspath(self.anchor())), link_name(self.store_dir()))

    def new_store(self) -> Store:
        return Store(self.store_dir(), self.link_path())

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
    in_place: bool = False
    forward: bool = False  # rollback(): to the next newer generation a rollback left (a roll forward)


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
        attrs=resolve_attrs(options.get("owner"), options.get("group"), options.get("mode"), options.get("key_mode"),
                            bool(options.get("force_mode"))),
        keep=DEFAULT_KEEP if keep is None else int(keep),
        check_mode=check_mode,
        policy=policy,
        from_fingerprint=options.get("from_fingerprint"),
        in_place=bool(options.get("in_place")),
    )
    if (options.get("state") or "present") == "present":
        cert, key, chain = _input(options, "cert"), _input(options, "key"), _input(options, "chain")
        if cert is None or key is None:
            raise InputError("state=present needs the certificate and the key: give cert_content or cert_src, and key_content or key_src")
        sources = {role: (role + "_src " + options[role + "_src"]) if options.get(role + "_src") else role + "_content"
                   for role in ("cert", "key", "chain")}
        bundle = build_bundle(cert, key, chain, sources)
        roots = _x509.load_ca_file(options["ca_bundle"]) if options.get("ca_bundle") else None
        validate_bundle(bundle, roots, options.get("expected_names") or (), policy.now, policy.leeway,
                        "ca_bundle %s" % options.get("ca_bundle"))
        request.bundle = bundle
    return request


# --------------------------------------------------------------------------- deploy and rollback


def describe_cert(cert: Certificate | None, path: str | None, policy: _policy.Policy) -> dict[str, t.Any] | None:
    return None if cert is None else _x509.describe(cert, path, policy)


def recover_leftovers(req: DeployRequest, store: Store, paths: t.Mapping[str, str]) -> None:
    """Clean what a killed earlier run left in *store* (not in check mode)."""
    if not req.check_mode and store.exists():
        with locked(store.lock_path):
            store.recover(paths.values())


def publish_generation(req: DeployRequest, store: Store, number: int, paths: t.Mapping[str, str]) -> list[str]:
    """Make the service paths show generation *number* (current already): links, or bytes in place."""
    if req.in_place:
        return write_in_place(store, number, paths, req.attrs)
    linked = store.link_service_paths(paths)
    store.announce({role: path for role, path in paths.items() if path not in linked})
    return linked


def plan(existing: t.Sequence[int], current: int | None, adopting: bool, keep: int,
         retired: t.Sequence[int] = ()) -> tuple[int | None, int, list[int]]:
    """Numbers a deploy gives: (adopted generation or None, new generation, generations kept after).
    The generations rollbacks left (*retired*) are discarded; their numbers are not given again."""
    top = max(existing, default=0)
    adopt = top + 1 if adopting else None
    number = (adopt or top) + 1
    gens = sorted([g for g in existing if g not in retired] + ([adopt] if adopt else []) + [number])
    victims = prune_victims(gens, keep, [g for g in (number, adopt or current) if g is not None])
    return adopt, number, [g for g in gens if g not in victims]


def _check_roles(bundle: Bundle, paths: t.Mapping[str, str]) -> None:
    if bundle.has_key:
        if "key" not in paths and "combined" not in paths:
            raise InputError("give key_path (or combined_path): the path your service reads the private key from")
        return
    keyed = ["%s_path" % role for role in ("key", "combined") if role in paths]
    if keyed:
        raise InputError("the certificate was issued for a CSR, so this host has no private key to install at %s; "
                         "leave %s out (the key stays where the CSR was made)" % (", ".join(keyed), " and ".join(keyed)))


@dataclasses.dataclass
class _Now:
    """What the store and the service paths hold before a deploy changes anything."""

    current: int | None
    foreign: list[str]  # roles whose files the store does not account for
    adopted: dict[str, bytes] | None  # the foreign files completed into a generation, to keep
    same_content: bool  # the current generation holds exactly the bundle's files
    published: bool  # the service paths already show the current generation
    certificate: dict[str, t.Any] | None
    previous: dict[str, t.Any] | None
    diff: dict[str, t.Any]


def _checked_request(req: DeployRequest) -> tuple[Bundle, dict[str, str]]:
    """Refuse a request that cannot be deployed; its bundle and service paths."""
    if req.bundle is None:
        raise InputError("nothing to deploy: give cert_content and key_content, or cert_src and key_src")
    if req.keep < 1:
        raise InputError("keep must be at least 1 (got %d); 3 keeps two generations to roll back to" % req.keep)
    req.targets.check()
    paths = req.targets.paths()
    _check_roles(req.bundle, paths)
    return req.bundle, paths


def _adoption(store: Store, current: int | None, found: _adopt.Survey,
              paths: t.Mapping[str, str]) -> dict[str, bytes] | None:
    """The files services read today as a generation to keep, when some are foreign (refused if mixed)."""
    if not found.foreign:
        return None
    base = {role: store.read(current, role) or b"" for role in store.roles(current)} if current else {}
    return _adopt.adoption_set(found.disk, base, _adopt.labels(paths))


def _holds(store: Store, current: int | None, files: t.Mapping[str, bytes]) -> bool:
    """Whether generation *current* holds exactly *files*."""
    return (
        current is not None
        and store.roles(current) == list(files)
        and all(store.read(current, role) == files[role] for role in files)
    )


def _is_published(req: DeployRequest, store: Store, current: int | None, paths: t.Mapping[str, str]) -> bool:
    """Whether the service paths already show generation *current* (links, or bytes in place)."""
    if req.in_place:
        return current is not None and files_ok(store, current, paths, req.attrs)
    return store.links_ok(paths) and store.linked()


def _look(req: DeployRequest, bundle: Bundle, store: Store, paths: t.Mapping[str, str]) -> _Now:
    """Read the store and the service paths: the current generation, what to adopt, what is published."""
    current = store.current()
    found = _adopt.survey(store, paths)
    adopted = _adoption(store, current, found, paths)
    previous_cert = _adopt.served_certificate(found.disk) or store.certificate(current)
    same_content = adopted is None and _holds(store, current, bundle.files())
    published = _is_published(req, store, current, paths)
    new_cert_path = req.targets.anchor()
    diff = {"before": diff_view(previous_cert), "after": diff_view(bundle.cert)}
    previous = describe_cert(previous_cert, new_cert_path, req.policy)
    certificate = describe_cert(bundle.cert, new_cert_path, req.policy)
    return _Now(current=current, foreign=found.foreign, adopted=adopted, same_content=same_content,
                published=published, certificate=certificate, previous=previous, diff=diff)


def _refresh(req: DeployRequest, store: Store, paths: t.Mapping[str, str], now: _Now, current: int) -> DeployResult:
    """The bundle is current already: only republish and fix owner/group/mode where they drifted."""
    actions = []
    if not now.published:
        actions.append(("rewrote the service files in place from generation %d" if req.in_place else
                        "relinked service paths to generation %d") % current)
    if not store.attrs_ok(current, req.attrs):
        actions.append("fixed owner/group/mode of generation %d" % current)
    if actions and not req.check_mode:
        with locked(store.lock_path):
            if not store.attrs_ok(current, req.attrs):
                store.fix_attrs(current, req.attrs)
            if not now.published:
                store.attach_link()
                publish_generation(req, store, current, paths)
    return DeployResult(bool(actions), current, current, now.certificate, now.previous, store.root,
                        store.generations(), actions, {"before": now.diff["before"], "after": now.diff["after"]})


def _preview(req: DeployRequest, store: Store, now: _Now) -> DeployResult:
    """Check mode: what a deploy would do (adopt, discard, write), nothing changed."""
    stale = store.stale() if now.current is not None else []
    existing = [g for g in store.generations() if g not in stale]
    retired = store.retired()
    adopt_number, number, kept = plan(existing, now.current, now.adopted is not None, req.keep, retired)
    actions = []
    if now.adopted:
        actions.append("adopt the files at %s as generation %s" % (", ".join(sorted(now.foreign)), adopt_number))
    if retired:
        actions.append("discard generation(s) %s that rollbacks left" % ", ".join(map(str, retired)))
    actions.append("write generation %d and make it current" % number)
    return DeployResult(True, number, adopt_number or now.current, now.certificate, now.previous, store.root, kept,
                        actions, now.diff)


def _keep_adopted(req: DeployRequest, store: Store, paths: t.Mapping[str, str],
                  adopted: t.Mapping[str, bytes]) -> tuple[int, list[int]]:
    """Write the adopted files as a generation and make it current; its number and the generations discarded.

    Only after the switch are foreign files replaced by links: readers see the same bytes throughout.
    """
    number = store.write_generation(adopted, req.attrs)
    discarded = store.discard_retired()
    store.switch(number)
    if not req.in_place:
        store.link_service_paths(paths)
    return number, discarded


def _publish_new(req: DeployRequest, store: Store, number: int, paths: t.Mapping[str, str]) -> list[str]:
    """Make the service paths show the new generation *number*; the action taken, if any."""
    changed_paths = publish_generation(req, store, number, paths)
    if not changed_paths:
        return []
    return [("rewrote %s in place" if req.in_place else "linked %s through " + str(store.link))
            % ", ".join(changed_paths)]


def _prune(req: DeployRequest, store: Store, number: int, current: int | None) -> list[str]:
    """Remove generations beyond ``req.keep`` (never *number* nor *current*); the action taken, if any."""
    pruned = store.prune(req.keep, protect=[number] + ([current] if current is not None else []))
    return ["removed generation(s) %s" % ", ".join(str(p) for p in pruned)] if pruned else []


def _install(req: DeployRequest, bundle: Bundle, store: Store, paths: t.Mapping[str, str], now: _Now) -> DeployResult:
    """Under the store lock: adopt, write the new generation, switch to it, publish it, prune."""
    store.ensure_root()
    actions = []
    with locked(store.lock_path):
        store.recover(paths.values())
        current = store.current()
        store.attach_link()
        discarded: list[int] = []
        if now.adopted:
            current, discarded = _keep_adopted(req, store, paths, now.adopted)
            actions.append("adopted existing files as generation %d" % current)
        number = store.write_generation(bundle.files(), req.attrs)
        discarded += store.discard_retired()  # after the write: their numbers are not given again
        if discarded:
            actions.append("discarded generation(s) %s that rollbacks left" % ", ".join(map(str, discarded)))
        store.switch(number)
        actions.append("wrote generation %d and made it current" % number)
        actions += _publish_new(req, store, number, paths)
        actions += _prune(req, store, number, current)
        return DeployResult(True, number, current, now.certificate, now.previous, store.root, store.generations(),
                            actions, now.diff)


def deploy(req: DeployRequest) -> DeployResult:
    """Install ``req.bundle`` as a new generation (or report that it already is current)."""
    bundle, paths = _checked_request(req)
    store = req.targets.new_store()
    try:
        recover_leftovers(req, store, paths)
        now = _look(req, bundle, store, paths)
        if now.same_content and now.current is not None:
            return _refresh(req, store, paths, now, now.current)
        if req.check_mode:
            return _preview(req, store, now)
        return _install(req, bundle, store, paths, now)
    except OSError as exc:
        raise os_error("update", getattr(exc, "filename", None) or store.root, exc) from None


def rollback(req: DeployRequest) -> DeployResult:
    """Make the generation before the current one current again (``req.forward``: the next newer one a
    rollback left); the one left is kept (see :mod:`.rollback`)."""
    from .rollback import rollback as _switch

    return _switch(req)
