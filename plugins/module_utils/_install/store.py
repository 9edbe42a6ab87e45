# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The generation store: numbered generations of one bundle under one directory, one switching link.

Layout (``deploy`` places the store and its link; ``tls/`` is the directory of the service paths)::

    tls/.ghostguard/site/gen-1/{cert.pem,key.pem,chain.pem,fullchain.pem,combined.pem}
    tls/.ghostguard/site/gen-2/...
    tls/..site.data -> .ghostguard/site/gen-2     THE switching link, replaced with rename(2)
    tls/.ghostguard/site/current -> ../../..site.data   fixed; resolves through the switching link
    tls/.ghostguard/site/.lock                    flock: one writer at a time

The switching link lives in the directory of the service paths (as Kubernetes swaps ``..data`` in a
mounted secret), so the one rename that commits a deploy or a rollback is an event in the directory a
file-watching service watches.  A store made without a switching link (older releases, or
``Store(root)`` alone) is switched through ``current`` itself; :meth:`Store.attach_link` migrates it.

A new generation is written into ``.gen-N.partial`` (every file and the directory fsynced through
:mod:`._durable`), renamed to ``gen-N``, and made current with one rename of the switching link.
Left-overs of a killed run (``*.partial``, ``*.ghostguard-tmp``, generations newer than the current
one that never were current) are removed by :meth:`Store.recover`.  A rollback marks the generation it
leaves (``gen-N/.was-current``, before it switches) and keeps it, newer than the current one, for a
roll forward; the next install of a new generation discards those (:meth:`Store.discard_retired`), as a
new page discards a browser's forward history, so the numbers stay the order the generations were current
in.  A generation issued for a CSR has no ``key.pem`` and no
``combined.pem``.

File attributes (:class:`._attrs.Attrs`: owner, group, modes) are applied to every generation written.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import typing as t

from .. import _x509
from .._durable import fsync_dir, replace_symlink, step, write_file
from .._errors import CertificateError
from .attrs import Attrs, parse_mode, resolve_attrs
from .bundle import ROLES

if t.TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate

FILE_NAMES = {"cert": "cert.pem", "key": "key.pem", "chain": "chain.pem", "fullchain": "fullchain.pem",
              "combined": "combined.pem"}
GEN_RE = re.compile(r"^gen-(\d+)$")
CURRENT = "current"
LOCK = ".lock"
TMP_SUFFIX = ".ghostguard-tmp"
WAS_CURRENT = ".was-current"  # in a generation a rollback left: kept for a roll forward, not a killed run's
__all__ = ["Attrs", "Store", "link_name", "parse_mode", "prune_victims", "resolve_attrs"]
INPLACE_SUFFIX = ".ghostguard-new"


def ensure_dir(directory: str) -> None:
    if not os.path.isdir(directory):
        step("mkdir service dir")
        os.makedirs(directory, mode=0o755, exist_ok=True)


def prune_victims(generations: t.Iterable[int], keep: int, protect: t.Iterable[int]) -> list[int]:
    """The generations to remove so that *keep* remain: the oldest first, never one of *protect* (the
    current one, the one to roll back to); *keep* < 1 removes nothing."""
    gens = sorted(generations)
    protected = set(protect) & set(gens)
    if keep < 1:
        return []
    others = [g for g in gens if g not in protected]
    room = max(keep - len(protected), 0)
    return others[:len(others) - room] if room < len(others) else []


def link_name(store_root: str) -> str:
    """File name of the switching link of the store at *store_root*: ``..<store name>.data``."""
    return "..%s.data" % os.path.basename(os.path.normpath(store_root))


class Store:
    """Generations of one certificate bundle under one directory.

    *link* is the absolute path of the switching link (``<service dir>/..<name>.data``); ``None``
    switches ``current`` inside the store (the layout of older releases).
    """

    def __init__(self, root: str, link: str | None = None) -> None:
        self.root = root
        self.link = link

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

    def _generation_of(self, link: str) -> int | None:
        if not os.path.islink(link):
            return None
        real = os.path.realpath(link)
        match = GEN_RE.match(os.path.basename(real))
        if not match or not os.path.isdir(real) or os.path.dirname(real) != os.path.realpath(self.root):
            return None
        return int(match.group(1))

    def current(self) -> int | None:
        """The current generation: where the switching link (else ``current``) leads."""
        if self.link is not None and os.path.islink(self.link):
            return self._generation_of(self.link)
        return self._generation_of(self.current_link)

    def linked(self) -> bool:
        """Whether ``current`` already resolves through the switching link (no migration needed)."""
        if self.link is None:
            return True
        try:
            return os.readlink(self.current_link) == self._rel(self.link, self.root) and os.path.islink(self.link)
        except OSError:
            return False

    def was_current(self, number: int) -> bool:
        """Whether generation *number* was current once and a rollback left it (its marker)."""
        return os.path.lexists(os.path.join(self.gen_dir(number), WAS_CURRENT))

    def stale(self) -> list[int]:
        """Generations a killed run wrote but never made current (what :meth:`recover` removes)."""
        current = self.current()
        return [g for g in self.generations() if current is None or (g > current and not self.was_current(g))]

    def retired(self) -> list[int]:
        """Generations newer than the current one that rollbacks left, oldest first (to roll forward to)."""
        current = self.current()
        return [] if current is None else [g for g in self.generations() if g > current and self.was_current(g)]

    def _rel(self, path: str, start: str) -> str:
        """*path* relative to the directory *start*, directories resolved, the last name kept (a link)."""
        path = os.path.abspath(path)
        real = os.path.join(self._realdir(os.path.dirname(path)), os.path.basename(path))
        return os.path.relpath(real, self._realdir(start))

    def _realdir(self, directory: str) -> str:
        cache: dict[str, str] = self.__dict__.setdefault("_realdirs", {})
        if directory not in cache:
            cache[directory] = os.path.realpath(directory)
        return cache[directory]

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
        """What the service path *path* of *role* links to: a relative path through the switching link."""
        base = os.path.dirname(os.path.abspath(path))
        if self.link is None:
            return os.path.normpath(os.path.join(self._rel(self.root, base), CURRENT, FILE_NAMES[role]))
        return os.path.normpath(os.path.join(self._rel(self.link, base), FILE_NAMES[role]))

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
        """Create the store (and the directory of the switching link) when missing."""
        parent = os.path.dirname(self.root)
        for directory in ([os.path.dirname(self.link)] if self.link else []) + [parent, self.root]:
            if not os.path.isdir(directory):
                step("mkdir " + os.path.basename(directory))
                os.makedirs(directory, mode=0o755, exist_ok=True)
                fsync_dir(os.path.dirname(directory))

    def recover(self, paths: t.Iterable[str] = ()) -> list[str]:
        """Remove what a killed run left behind (in the store, and beside the switching link and the
        service *paths*); return what was removed."""
        removed: list[str] = []
        if not self.exists():
            return removed
        for path in ([self.link] if self.link else []) + list(paths):
            for leftover in (path + TMP_SUFFIX, path + INPLACE_SUFFIX):
                if os.path.lexists(leftover):
                    step("recover " + os.path.basename(leftover))
                    os.unlink(leftover)
                    removed.append(os.path.basename(leftover))
        uncommitted = set(self.stale())  # written but never made current: the run that made it died
        for name in sorted(os.listdir(self.root)):
            path = os.path.join(self.root, name)
            match = GEN_RE.match(name)
            if name.endswith((".partial", TMP_SUFFIX)) or (match and int(match.group(1)) in uncommitted):
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
        if self.link is None:
            step("link current.tmp")
            replace_symlink("gen-%d" % number, self.current_link)
            step("fsync store after switch")
            fsync_dir(self.root)
            return
        directory = os.path.dirname(self.link)
        step("link data.tmp")
        replace_symlink(os.path.normpath(self._rel(self.gen_dir(number), directory)), self.link)
        step("fsync service dir after switch")
        fsync_dir(directory)
        if not self.linked():
            step("link current through data")
            replace_symlink(self._rel(self.link, self.root), self.current_link)
            fsync_dir(self.root)

    def attach_link(self) -> None:
        """Point the switching link at the current generation and ``current`` through it.

        Migrates a store of the older layout (``current`` -> ``gen-N``) without changing what any reader
        sees: both names lead to the same generation at every instant.  Service paths are relinked
        through the switching link afterwards (:meth:`link_service_paths`).
        """
        if self.link is None or self.linked():
            return
        number = self.current()
        if number is not None:
            self.switch(number)

    def announce(self, paths: t.Mapping[str, str]) -> list[str]:
        """Rename each service link onto itself (same target): an event in every service directory.

        Readers see no change (the target is the same); a service watching a directory other than the
        switching link's, or filtering events by its own file names, is told that its files changed.
        """
        done = []
        for role, path in paths.items():
            if not os.path.islink(path):
                continue
            step("announce " + role)
            replace_symlink(os.readlink(path), path)
            done.append(path)
        return done

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
            ensure_dir(directory)
            step("link " + role)
            replace_symlink(want, path)
            fsync_dir(directory)
            changed.append(path)
        return changed

    def retire(self, number: int) -> None:
        """Mark generation *number* (the current one, before a rollback switches away from it) as kept."""
        marker = os.path.join(self.gen_dir(number), WAS_CURRENT)
        if not os.path.lexists(marker):
            step("retire %d" % number)
            write_file(marker, b"left by a rollback; kept for a roll forward until the next install\n", 0o644)
            fsync_dir(self.gen_dir(number))

    def discard_retired(self) -> list[int]:
        """Remove the generations rollbacks left (before a new generation is installed); return them."""
        gone = self.retired()
        for number in gone:
            step("discard %d" % number)
            shutil.rmtree(self.gen_dir(number))
        if gone:
            fsync_dir(self.root)
        return gone

    def prune(self, keep: int, protect: t.Iterable[int]) -> list[int]:
        """Remove the oldest generations beyond *keep*, never one of *protect*; return them."""
        victims = prune_victims(self.generations(), keep, protect)
        for number in victims:
            step("prune %d" % number)
            shutil.rmtree(self.gen_dir(number))
        if victims:
            fsync_dir(self.root)
        return victims
