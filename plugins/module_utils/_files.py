# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Atomic installation of a certificate bundle in generations, with rollback.

Layout (``store`` defaults to ``<dir of cert_path>/.ghostguard/<name>``)::

    <store>/gen-1/{cert.pem,key.pem,chain.pem,fullchain.pem,combined.pem}
    <store>/gen-2/...
    <store>/current -> gen-2                      one symlink, replaced with rename(2)
    cert_path      -> <store>/current/cert.pem     service paths: symlinks created once
    key_path       -> <store>/current/key.pem

A new generation is written into ``.gen-N.partial``, every file and the directory fsynced, the
directory renamed to ``gen-N`` and then ``current`` is switched with one rename.  Every service path
resolves through the single ``current`` link, so at any instant all of them name files of the same
generation: a reader never finds a new certificate beside an old key, nor a half-written file, even
when the process is killed at any point.  Left-overs of a killed run (``*.partial``, ``current.tmp``,
generations newer than ``current``) are removed by the next run.

One limit no scheme with two files can lift: a reader that opens the certificate and then the key
*while* ``current`` is being switched may get one of each generation (it then fails to load them;
nginx keeps its old configuration).  Services normally read only after the deploy, when they are
reloaded.  For readers that must be safe even during the switch, ``combined.pem`` (full chain + key
in one file, key mode) is one file: a single open sees one generation, always.

Plain Python, no Ansible import: used by the ``deploy`` module and the host agent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import errno
import os
import re
import shutil
import stat
import typing as t

from . import _policy, _x509
from ._errors import CertificateError, FileSystemError, InputError
from ._time import parse_duration, utcnow

try:
    import fcntl

    HAS_FCNTL = True
except ImportError:  # pragma: no cover - not on POSIX
    HAS_FCNTL = False

if t.TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate

ROLES = ("cert", "key", "chain", "fullchain", "combined")
FILE_NAMES = {"cert": "cert.pem", "key": "key.pem", "chain": "chain.pem", "fullchain": "fullchain.pem",
              "combined": "combined.pem"}
SECRET_ROLES = ("key", "combined")
GEN_RE = re.compile(r"^gen-(\d+)$")
CURRENT = "current"
DEFAULT_KEEP = 3
MAX_INPUT_BYTES = 1 << 20

# Test seam for the crash-safety test: called with a step name before every filesystem step.
StepHook = t.Callable[[str], None]
_step_hook: StepHook | None = None


def set_step_hook(hook: StepHook | None) -> None:
    global _step_hook
    _step_hook = hook


def _step(name: str) -> None:
    if _step_hook is not None:
        _step_hook(name)


# --------------------------------------------------------------------------- low-level, durable


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: str, data: bytes, mode: int, uid: int = -1, gid: int = -1) -> None:
    """Create *path* (must not exist) with *mode* from the first byte, write, chown, fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode & 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if uid != -1 or gid != -1:
            os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_symlink(target: str, link: str) -> None:
    """Point *link* at *target* atomically: make ``link.tmp`` then rename it over *link*."""
    tmp = link + ".ghostguard-tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(target, tmp)
    _step("rename %s" % os.path.basename(link))
    os.rename(tmp, link)


@contextlib.contextmanager
def locked(path: str) -> t.Iterator[None]:
    """Exclusive advisory lock on *path* (created) so two deploys to one store never interleave."""
    if not HAS_FCNTL:  # pragma: no cover
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _os_error(action: str, path: str, exc: OSError) -> FileSystemError:
    hint = "check that the directory exists, is writable and has free space"
    if exc.errno in (errno.EACCES, errno.EPERM):
        hint = "run the task with become: true or as the owner of the directory"
    elif exc.errno == errno.ENOSPC:
        hint = "free space on that filesystem"
    return FileSystemError("cannot %s %s (%s); %s" % (action, path, exc.strerror or exc, hint), path=path)


# --------------------------------------------------------------------------- the bundle


@dataclasses.dataclass
class Bundle:
    cert: Certificate
    key: t.Any
    chain: list[Certificate]
    cert_pem: bytes
    key_pem: bytes
    chain_pem: bytes

    @property
    def fullchain_pem(self) -> bytes:
        return self.cert_pem + self.chain_pem

    def files(self) -> dict[str, bytes]:
        return {
            "cert": self.cert_pem,
            "key": self.key_pem,
            "chain": self.chain_pem,
            "fullchain": self.fullchain_pem,
            "combined": self.fullchain_pem + self.key_pem,
        }


def _pem(cert: Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(cert.public_bytes(serialization.Encoding.PEM))


def build_bundle(cert_data: bytes, key_data: bytes, chain_data: bytes | None,
                 sources: t.Mapping[str, str] | None = None) -> Bundle:
    """Parse the inputs into a :class:`Bundle` (certificate PEM re-encoded, key bytes kept as given).

    A certificate input holding several certificates is taken as leaf + chain when no chain is given.
    """
    names = {"cert": "cert_content", "key": "key_content", "chain": "chain_content"}
    names.update(sources or {})
    for role, data in (("cert", cert_data), ("key", key_data), ("chain", chain_data or b"")):
        if len(data) > MAX_INPUT_BYTES:
            raise InputError("%s is larger than 1 MiB; give a PEM certificate, key or chain" % names[role])
    for role, data in (("cert", cert_data), ("chain", chain_data or b"")):
        _x509.check_pem_complete(data, names[role])
    certs, _fmt = _x509.load_certificates(cert_data, names["cert"])
    leaf, extra = certs[0], certs[1:]
    if chain_data is not None and chain_data.strip():
        chain, _fmt = _x509.load_certificates(chain_data, names["chain"])
        if extra:
            raise InputError(
                "%s holds %d certificates and %s is given too; give the leaf alone in %s, or leave %s out"
                % (names["cert"], len(certs), names["chain"], names["cert"], names["chain"])
            )
    else:
        chain = extra
    if b"-----BEGIN" not in key_data:
        raise CertificateError("%s is not a PEM private key (no BEGIN line)" % names["key"])
    key = _x509.load_private_key(key_data, names["key"])
    key_pem = key_data.strip() + b"\n"
    return Bundle(
        cert=leaf,
        key=key,
        chain=chain,
        cert_pem=_pem(leaf),
        key_pem=key_pem,
        chain_pem=b"".join(_pem(c) for c in chain),
    )


def validate_bundle(
    bundle: Bundle,
    ca_bundle: t.Sequence[Certificate] | None = None,
    expected_names: t.Sequence[str] = (),
    now: _dt.datetime | None = None,
    leeway: float = 0.0,
) -> None:
    """Refuse a bundle no service should load: key mismatch, broken chain, missing names, expired."""
    moment = now or utcnow()
    leaf = bundle.cert
    subject = leaf.subject.rfc4514_string() or "<empty subject>"
    if not _x509.public_key_matches(leaf, bundle.key):
        raise CertificateError(
            "the private key does not belong to the certificate %s (fingerprint %s); give the key the "
            "certificate was issued for" % (subject, _x509.fingerprint(leaf))
        )
    end, start = _x509.not_after(leaf), _x509.not_before(leaf)
    if end <= moment + _dt.timedelta(seconds=leeway):
        raise CertificateError(
            "the certificate %s expired at %s; renew it before deploying" % (subject, _x509.iso(end))
        )
    if start > moment + _dt.timedelta(seconds=leeway):
        raise CertificateError(
            "the certificate %s is not valid before %s (host clock %s); check the clock or wait"
            % (subject, _x509.iso(start), _x509.iso(moment))
        )
    if ca_bundle:
        problem = _x509.verify_chain(leaf, bundle.chain, ca_bundle, moment)
        if problem:
            raise CertificateError(
                "the chain of %s does not verify against ca_bundle: %s; give the chain the CA issued "
                "with this certificate" % (subject, problem)
            )
    else:
        for child, parent in zip([leaf, *bundle.chain], bundle.chain):
            if not _x509.issued_by(child, parent):
                raise CertificateError(
                    "the chain does not link: %s was not issued by %s; give the chain the CA issued with "
                    "this certificate" % (child.subject.rfc4514_string(), parent.subject.rfc4514_string())
                )
    missing = _x509.names_cover(leaf, expected_names)
    if missing:
        raise CertificateError(
            "the certificate %s does not cover %s (it covers %s); issue one for every expected name"
            % (subject, ", ".join(missing), ", ".join(_x509.dns_names(leaf)) or "no names")
        )


def diff_view(cert: Certificate | None) -> dict[str, t.Any]:
    """What diff mode shows of a certificate (never key material)."""
    if cert is None:
        return {}
    return {
        "subject": cert.subject.rfc4514_string(),
        "sans": _x509.subject_alt_names(cert),
        "serial": _x509.serial_hex(cert),
        "not_after": _x509.iso(_x509.not_after(cert)),
        "fingerprint_sha256": _x509.fingerprint(cert),
    }


# --------------------------------------------------------------------------- targets and attributes


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
class Attrs:
    uid: int = -1
    gid: int = -1
    mode: int = 0o644
    key_mode: int = 0o600
    dir_mode: int = 0o755

    def mode_for(self, role: str) -> int:
        return self.key_mode if role in SECRET_ROLES else self.mode


def parse_mode(value: t.Any, option: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"0?[0-7]{3,4}", text):
        raise InputError("%s %r is not an octal mode; write it as a quoted string such as '0644'" % (option, value))
    return int(text, 8)


def resolve_attrs(owner: str | None = None, group: str | None = None, mode: t.Any = None,
                  key_mode: t.Any = None) -> Attrs:
    import grp
    import pwd

    attrs = Attrs()
    if owner not in (None, ""):
        try:
            attrs.uid = int(owner) if str(owner).isdigit() else pwd.getpwnam(str(owner)).pw_uid
        except KeyError:
            raise InputError("owner %r is not a user on this host; create it first or give another owner" % owner) from None
    if group not in (None, ""):
        try:
            attrs.gid = int(group) if str(group).isdigit() else grp.getgrnam(str(group)).gr_gid
        except KeyError:
            raise InputError("group %r is not a group on this host; create it first or give another group" % group) from None
    if mode not in (None, ""):
        attrs.mode = parse_mode(mode, "mode")
    if key_mode not in (None, ""):
        attrs.key_mode = parse_mode(key_mode, "key_mode")
    if attrs.key_mode & 0o007:
        raise InputError("key_mode %s would let every user read the private key; use '0600' or '0640'" % oct(attrs.key_mode))
    return attrs


# --------------------------------------------------------------------------- the store


class Store:
    """Generations of one certificate bundle under one directory."""

    def __init__(self, root: str) -> None:
        self.root = root

    def gen_dir(self, number: int) -> str:
        return os.path.join(self.root, "gen-%d" % number)

    @property
    def current_link(self) -> str:
        return os.path.join(self.root, CURRENT)

    def exists(self) -> bool:
        return os.path.isdir(self.root)

    def generations(self) -> list[int]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            match = GEN_RE.match(name)
            if match and os.path.isdir(os.path.join(self.root, name)):
                out.append(int(match.group(1)))
        return sorted(out)

    def current(self) -> int | None:
        try:
            target = os.readlink(self.current_link)
        except OSError:
            return None
        match = GEN_RE.match(os.path.basename(target.rstrip("/")))
        if not match or not os.path.isdir(os.path.join(self.root, target)):
            return None
        return int(match.group(1))

    def read(self, number: int, role: str) -> bytes | None:
        try:
            with open(os.path.join(self.gen_dir(number), FILE_NAMES[role]), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def certificate(self, number: int | None) -> Certificate | None:
        if number is None:
            return None
        data = self.read(number, "cert")
        if not data:
            return None
        try:
            return _x509.load_certificates(data, self.gen_dir(number))[0][0]
        except CertificateError:
            return None

    # -- changes

    def ensure_root(self, attrs: Attrs) -> None:
        parent = os.path.dirname(self.root)
        for directory in (parent, self.root):
            if not os.path.isdir(directory):
                _step("mkdir " + os.path.basename(directory))
                os.makedirs(directory, mode=0o755, exist_ok=True)
                fsync_dir(os.path.dirname(directory))

    def recover(self) -> list[str]:
        """Remove what a killed run left behind; return what was removed."""
        removed: list[str] = []
        if not self.exists():
            return removed
        current = self.current()
        for name in sorted(os.listdir(self.root)):
            path = os.path.join(self.root, name)
            match = GEN_RE.match(name)
            stale = name.endswith(".partial") or name.endswith(".ghostguard-tmp")
            if match and (current is None or int(match.group(1)) > current):
                stale = True  # written but never made current: the run that made it died
            if stale:
                _step("recover " + name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
                removed.append(name)
        if removed:
            fsync_dir(self.root)
        return removed

    def write_generation(self, files: t.Mapping[str, bytes], attrs: Attrs) -> int:
        number = max(self.generations(), default=0) + 1
        partial = os.path.join(self.root, ".gen-%d.partial" % number)
        _step("mkdir partial")
        os.mkdir(partial, attrs.dir_mode & 0o700)
        for role in ROLES:
            _step("write " + role)
            write_file(os.path.join(partial, FILE_NAMES[role]), files[role], attrs.mode_for(role), attrs.uid, attrs.gid)
        _step("chmod partial")
        if attrs.uid != -1 or attrs.gid != -1:
            os.chown(partial, attrs.uid, attrs.gid)
        os.chmod(partial, attrs.dir_mode)
        _step("fsync partial")
        fsync_dir(partial)
        _step("rename generation")
        os.rename(partial, self.gen_dir(number))
        _step("fsync store")
        fsync_dir(self.root)
        return number

    def switch(self, number: int) -> None:
        """Make generation *number* current with one rename (the commit point)."""
        _step("link current.tmp")
        replace_symlink("gen-%d" % number, self.current_link)
        _step("fsync store after switch")
        fsync_dir(self.root)

    def link_service_paths(self, targets: t.Mapping[str, str]) -> list[str]:
        """Make each service path a symlink through ``current``; return the paths that changed.

        A regular file (or foreign link) at a service path must already have been adopted into the
        current generation, so replacing it changes no content a reader sees.
        """
        changed = []
        for role, path in targets.items():
            want = self.link_target(path, role)
            try:
                have = os.readlink(path)
            except OSError:
                have = None
            if have == want:
                continue
            directory = os.path.dirname(path)
            if not os.path.isdir(directory):
                _step("mkdir service dir")
                os.makedirs(directory, mode=0o755, exist_ok=True)
            _step("link " + role)
            replace_symlink(want, path)
            fsync_dir(directory)
            changed.append(path)
        return changed

    def link_target(self, path: str, role: str) -> str:
        base = os.path.realpath(os.path.dirname(os.path.abspath(path)))
        return os.path.join(os.path.relpath(os.path.realpath(self.root), base), CURRENT, FILE_NAMES[role])

    def prune(self, keep: int, protect: t.Iterable[int]) -> list[int]:
        gens = self.generations()
        protected = set(protect)
        victims = [g for g in gens[:-keep] if g not in protected] if keep > 0 else []
        for number in victims:
            _step("prune %d" % number)
            shutil.rmtree(self.gen_dir(number))
        if victims:
            fsync_dir(self.root)
        return victims


# --------------------------------------------------------------------------- deploy and rollback


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


def _read_service_file(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _os_error("read", path, exc) from None


def _service_links_ok(store: Store, paths: t.Mapping[str, str]) -> bool:
    for role, path in paths.items():
        try:
            if os.readlink(path) != store.link_target(path, role):
                return False
        except OSError:
            return False
    return True


def _attrs_ok(store: Store, number: int, attrs: Attrs) -> bool:
    for role in ROLES:
        try:
            st = os.lstat(os.path.join(store.gen_dir(number), FILE_NAMES[role]))
        except OSError:
            return False
        if stat.S_IMODE(st.st_mode) != attrs.mode_for(role):
            return False
        if attrs.uid != -1 and st.st_uid != attrs.uid:
            return False
        if attrs.gid != -1 and st.st_gid != attrs.gid:
            return False
    return True


def _fix_attrs(store: Store, number: int, attrs: Attrs) -> None:
    for role in ROLES:
        path = os.path.join(store.gen_dir(number), FILE_NAMES[role])
        _step("attrs " + role)
        if attrs.uid != -1 or attrs.gid != -1:
            os.chown(path, attrs.uid, attrs.gid)
        os.chmod(path, attrs.mode_for(role))


def _describe(cert: Certificate | None, path: str | None, policy: _policy.Policy) -> dict[str, t.Any] | None:
    return None if cert is None else _x509.describe(cert, path, policy)


def _adopt_files(store: Store, paths: t.Mapping[str, str]) -> dict[str, bytes] | None:
    """Content at service paths that are not yet ours (first deploy over existing files)."""
    found: dict[str, bytes] = {}
    for role, path in paths.items():
        if os.path.islink(path) and os.readlink(path) == store.link_target(path, role):
            continue
        data = _read_service_file(path)
        if data is not None:
            found[role] = data
    return found or None


def _recover(req: DeployRequest, store: Store) -> None:
    """Clean what a killed earlier run left in *store* (not in check mode)."""
    if not req.check_mode and store.exists():
        with locked(os.path.join(store.root, ".lock")):
            store.recover()


def deploy(req: DeployRequest) -> DeployResult:
    """Install ``req.bundle`` as a new generation (or report that it already is current)."""
    if req.bundle is None:
        raise InputError("nothing to deploy: give cert_content and key_content, or cert_src and key_src")
    if req.keep < 1:
        raise InputError("keep must be at least 1 (got %d); 3 keeps two generations to roll back to" % req.keep)
    req.targets.check()
    paths = req.targets.paths()
    if "key" not in paths and "combined" not in paths:
        raise InputError("give key_path (or combined_path): the path your service reads the private key from")
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
            and all(store.read(current, role) == files[role] for role in ROLES)
        )
        same = same_content and _service_links_ok(store, paths)
        diff = {"before": diff_view(previous_cert), "after": diff_view(req.bundle.cert)}
        previous = _describe(previous_cert, new_cert_path, policy)
        certificate = _describe(req.bundle.cert, new_cert_path, policy)
        if same and current is not None:
            actions = []
            changed = False
            if not _attrs_ok(store, current, req.attrs):
                actions.append("fixed owner/group/mode of generation %d" % current)
                changed = True
                if not req.check_mode:
                    with locked(os.path.join(store.root, ".lock")):
                        _fix_attrs(store, current, req.attrs)
            return DeployResult(changed, current, current, certificate, certificate, store.root,
                                store.generations(), actions, {"before": diff["before"], "after": diff["before"]})
        actions = []
        if same_content and current is not None:
            actions.append("relinked service paths to generation %d" % current)
            if not req.check_mode:
                with locked(os.path.join(store.root, ".lock")):
                    store.link_service_paths(paths)
                    if not _attrs_ok(store, current, req.attrs):
                        _fix_attrs(store, current, req.attrs)
            return DeployResult(True, current, current, certificate, certificate, store.root,
                                store.generations(), actions, {"before": diff["before"], "after": diff["before"]})
        if req.check_mode:
            number = max(store.generations(), default=0) + 1
            if adopted:
                actions.append("adopt existing files at %s as the previous generation" % ", ".join(sorted(adopted)))
            actions.append("write generation %d and make it current" % number)
            return DeployResult(True, number, current, certificate, previous, store.root, store.generations(),
                                actions, diff)
        store.ensure_root(req.attrs)
        with locked(os.path.join(store.root, ".lock")):
            store.recover()
            current = store.current()
            if adopted:
                # Keep what services read today as a generation of its own, switch to it and only
                # then replace the plain files by links: readers see the same bytes throughout.
                # Paths that are still ours keep showing the current generation's files.
                old = {role: (store.read(current, role) or b"") if current is not None else b"" for role in ROLES}
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
        raise _os_error("update", getattr(exc, "filename", None) or store.root, exc) from None


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
        target_cert = store.certificate(target)
        diff = {"before": diff_view(current_cert), "after": diff_view(target_cert)}
        desc = _describe(target_cert, cert_path, policy)
        actions = ["made generation %d current again, removed generation %d" % (target, current)]
        if req.check_mode:
            return DeployResult(True, target, current, desc, current_desc, store.root, store.generations(), actions, diff)
        with locked(os.path.join(store.root, ".lock")):
            store.switch(target)
            store.link_service_paths(paths)
            _step("remove abandoned")
            shutil.rmtree(store.gen_dir(current))
            fsync_dir(store.root)
        return DeployResult(True, target, current, desc, current_desc, store.root, store.generations(), actions, diff)
    except OSError as exc:
        raise _os_error("roll back", getattr(exc, "filename", None) or store.root, exc) from None


def read_input(path: str, option: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError("%s %s cannot be read (%s); check the path and permissions" % (option, path, exc.strerror)) from None
    if len(data) > MAX_INPUT_BYTES:
        raise InputError("%s %s is larger than 1 MiB; give a PEM file" % (option, path))
    return data


def leeway_seconds(value: t.Any) -> float:
    return parse_duration(value, "leeway") if value not in (None, "") else 0.0
