# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Owner, group and modes of installed certificate files, and the modes that are refused.

Refused unless ``force_mode`` is set: a world-writable ``mode`` (anyone could replace the certificate
a service presents), a ``key_mode`` readable or writable by every user, and a group-readable or
group-writable ``key_mode`` without an explicit ``group`` (the key would go to whatever group the
file happens to get).  ``0640`` with ``group: www-data`` is the usual way to let a service's group
read its key, and stays allowed.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from .._errors import InputError

SECRET_ROLES = ("key", "combined")


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


def check_modes(attrs: Attrs, group_given: bool, force: bool) -> None:
    """Refuse modes that expose or let others replace the files (see the module docstring)."""
    if force:
        return
    fix = "; set force_mode: true if you really mean it"
    if attrs.mode & 0o002:
        raise InputError("mode %04o lets every user replace the certificate files; use '0644'%s" % (attrs.mode, fix))
    if attrs.key_mode & 0o007:
        raise InputError("key_mode %04o would let every user read or change the private key; use '0600' or '0640' "
                         "with a group%s" % (attrs.key_mode, fix))
    if attrs.key_mode & 0o070 and not group_given:
        raise InputError("key_mode %04o gives the private key to the file's group, but no group is set; give "
                         "group (the service's group) or use '0600'%s" % (attrs.key_mode, fix))
    if attrs.key_mode & 0o020:
        raise InputError("key_mode %04o lets the group change the private key; use '0640'%s" % (attrs.key_mode, fix))


def resolve_attrs(owner: str | None = None, group: str | None = None, mode: t.Any = None,
                  key_mode: t.Any = None, force_mode: bool = False) -> Attrs:
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
    check_modes(attrs, group not in (None, ""), force_mode)
    return attrs
