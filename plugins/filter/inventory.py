# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The inventory model as filters: the certwatch role writes inventory_certificates() into the agent's
configuration, renew.yml and rollback.yml read the same (module_utils/_fleet/inventory.py holds the model)."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.ghostguard.certs.plugins.module_utils import _domains
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import inventory as _inventory
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import run_vars as _run_vars


def plain(value: t.Any) -> t.Any:
    """Templated inventory data as plain dicts, lists and scalars."""
    if isinstance(value, t.Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def name_rules() -> None:
    """Every name rule on the controller (Unicode names, the Public Suffix List); a missing library fails the task."""
    try:
        _domains.load_rules()
    except CertsError as exc:
        raise AnsibleFilterError(str(exc)) from None


def inventory_problems(certificates: t.Any, cert_dir: t.Any = None, host: str = "this host",
                       allowed_domains: t.Any = None) -> list[str]:
    """Every problem of a host's certwatch_certificates (empty: usable), each naming host, certificate and field."""
    name_rules()
    return _inventory.certificate_problems(str(host), plain(certificates if certificates is not None else []),
                                           plain(cert_dir) or None, plain(allowed_domains) or None)


def inventory_certificates(certificates: t.Any, cert_dir: t.Any = None, host: str = "this host",
                           allowed_domains: t.Any = None) -> list[dict[str, t.Any]]:
    """A host's certwatch_certificates with every default of the model filled in; a problem fails the task."""
    problems = inventory_problems(certificates, cert_dir, host, allowed_domains)
    if problems:
        raise AnsibleFilterError("certwatch_certificates is not usable: " + "; ".join(problems))
    return [_inventory.normalize_certificate(c, plain(cert_dir) or None) for c in plain(certificates or [])]


def inventory_unknown_variables(names: t.Any, host: str = "this host") -> list[str]:
    """A problem for every certwatch_* variable among *names* (e.g. lookup('ansible.builtin.varnames', '^certwatch_'))
    that the role does not know, with a did-you-mean: a typo never silently falls back to a default."""
    if not isinstance(names, (list, tuple)):
        names = [names] if names else []
    mine = [str(n) for n in names if str(n).startswith("certwatch_")]
    return _run_vars.unknown_variables({str(host): mine}, _run_vars.CERTWATCH_VARS)


class FilterModule:
    """ghostguard.certs inventory model filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"inventory_certificates": inventory_certificates, "inventory_problems": inventory_problems,
                "inventory_unknown_variables": inventory_unknown_variables}
