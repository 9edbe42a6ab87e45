# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The generation store: numbered generations of one bundle under one directory, one ``current`` link.

Layout::

    <store>/gen-1/{cert.pem,key.pem,chain.pem,fullchain.pem,combined.pem}
    <store>/gen-2/...
    <store>/current -> gen-2                      one symlink, replaced with rename(2)
    <store>/.lock                                 flock: one writer at a time

A new generation is written into ``.gen-N.partial`` (every file and the directory fsynced through
:mod:`._durable`), renamed to ``gen-N``, and made current with one rename of ``current``.  Left-overs
of a killed run (``*.partial``, ``*.ghostguard-tmp``, generations newer than ``current``) are removed by
:meth:`Store.recover`.  A generation issued for a CSR has no ``key.pem`` and no ``combined.pem``.

File attributes (:class:`Attrs`: owner, group, modes) are applied to every generation written.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import stat
import typing as t

from . import _x509
from ._bundle import ROLES, SECRET_ROLES
from ._durable import fsync_dir, replace_symlink, step, write_file
from ._errors import CertificateError, InputError

if t.TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate

FILE_NAMES = {"cert": "cert.pem", "key": "key.pem", "chain": "chain.pem", "fullchain": "fullchain.pem",
              "combined": "combined.pem"}
GEN_RE = re.compile(r"^gen-(\d+)$")
CURRENT = "current"
LOCK = ".lock"


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


class Store:
    """Generations of one certificate bundle under one directory."""

    def __init__(self, root: str) -> None:
        self.root = root

    def gen_dir(self, number: int) -> str:
        return os.path.join(self.root, "gen-%d" % number)

    @property
    def current_link(self) -> str:
        return os.path.join(self.root, CURRENT)

    @property
    def lock_path(self) -> str:
        return os.path.join(self.root, LOCK)

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

    def roles(self, number: int) -> list[str]:
        """The roles generation *number* holds (no ``key``/``combined`` for one issued for a CSR)."""
        return [role for role in ROLES if os.path.lexists(os.path.join(self.gen_dir(number), FILE_NAMES[role]))]

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

    def link_target(self, path: str, role: str) -> str:
        """What the service path *path* of *role* links to: a relative path through ``current``."""
        base = os.path.realpath(os.path.dirname(os.path.abspath(path)))
        return os.path.join(os.path.relpath(os.path.realpath(self.root), base), CURRENT, FILE_NAMES[role])

    def links_ok(self, paths: t.Mapping[str, str]) -> bool:
        for role, path in paths.items():
            try:
                if os.readlink(path) != self.link_target(path, role):
                    return False
            except OSError:
                return False
        return True

    def attrs_ok(self, number: int, attrs: Attrs) -> bool:
        for role in self.roles(number):
            try:
                st = os.lstat(os.path.join(self.gen_dir(number), FILE_NAMES[role]))
            except OSError:
                return False
            if stat.S_IMODE(st.st_mode) != attrs.mode_for(role):
                return False
            if attrs.uid != -1 and st.st_uid != attrs.uid:
                return False
            if attrs.gid != -1 and st.st_gid != attrs.gid:
                return False
        return True

    # -- changes (callers hold the lock)

    def fix_attrs(self, number: int, attrs: Attrs) -> None:
        for role in self.roles(number):
            path = os.path.join(self.gen_dir(number), FILE_NAMES[role])
            step("attrs " + role)
            if attrs.uid != -1 or attrs.gid != -1:
                os.chown(path, attrs.uid, attrs.gid)
            os.chmod(path, attrs.mode_for(role))

    def ensure_root(self) -> None:
        parent = os.path.dirname(self.root)
        for directory in (parent, self.root):
            if not os.path.isdir(directory):
                step("mkdir " + os.path.basename(directory))
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
                step("recover " + name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
                removed.append(name)
        if removed:
            fsync_dir(self.root)
        return removed

    def write_generation(self, files: t.Mapping[str, bytes], attrs: Attrs) -> int:
        """Write *files* (role -> bytes) as the next generation, durably; not yet current."""
        number = max(self.generations(), default=0) + 1
        partial = os.path.join(self.root, ".gen-%d.partial" % number)
        step("mkdir partial")
        os.mkdir(partial, attrs.dir_mode & 0o700)
        for role in ROLES:
            if role not in files:
                continue
            step("write " + role)
            write_file(os.path.join(partial, FILE_NAMES[role]), files[role], attrs.mode_for(role), attrs.uid, attrs.gid)
        step("chmod partial")
        if attrs.uid != -1 or attrs.gid != -1:
            os.chown(partial, attrs.uid, attrs.gid)
        os.chmod(partial, attrs.dir_mode)
        step("fsync partial")
        fsync_dir(partial)
        step("rename generation")
        os.rename(partial, self.gen_dir(number))
        step("fsync store")
        fsync_dir(self.root)
        return number

    def switch(self, number: int) -> None:
        """Make generation *number* current with one rename (the commit point)."""
        step("link current.tmp")
        replace_symlink("gen-%d" % number, self.current_link)
        step("fsync store after switch")
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
                step("mkdir service dir")
                os.makedirs(directory, mode=0o755, exist_ok=True)
            step("link " + role)
            replace_symlink(want, path)
            fsync_dir(directory)
            changed.append(path)
        return changed

    def prune(self, keep: int, protect: t.Iterable[int]) -> list[int]:
        gens = self.generations()
        protected = set(protect)
        victims = [g for g in gens[:-keep] if g not in protected] if keep > 0 else []
        for number in victims:
            step("prune %d" % number)
            shutil.rmtree(self.gen_dir(number))
        if victims:
            fsync_dir(self.root)
        return victims

    def remove(self, number: int) -> None:
        """Remove generation *number* (never the current one: callers switch first)."""
        step("remove abandoned")
        shutil.rmtree(self.gen_dir(number))
        fsync_dir(self.root)
