# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: ari_windows
short_description: The CAs' renewal windows (ACME ARI, RFC 9773) of a fleet's certificates, on the controller
version_added: 0.1.0
description:
  - Asks each CA, over plain HTTPS from the controller, for the suggested renewal window of each certificate
    (C(renewalInfo/<certID>)); no account key is needed.
  - Answers are cached in O(store) (C(ari-cache.json), mode 0600) until the CA's Retry-After (6 hours when it
    sends none, 24 hours at most), so a scheduled run asks a CA a few times a day.
  - A CA without ARI, or one that fails, is shown as a warning (one line per CA and kind of failure) and its
    certificates come back with C(due=false) and an C(error) - the local policy decides them.
  - C(ghostguard.certs.renew) runs it once per run, in the task that plans (no module runs for it); the
    M(ghostguard.certs.renew_orders) module with O(ghostguard.certs.renew_orders#module:state=observed) does the same
    as a task.
author:
  - ghostguard developers (@ghostguard)
options:
  _terms:
    description:
      - Groups of certificates by CA, each a dict with C(directory) (ACME directory URL), C(ca_bundle) (optional PEM
        file trusted for the CA's TLS certificate) and C(cert_ids) (RFC 9773 certificate ids); lists are flattened
        one level (as the C(ghostguard.certs.renew_ari_requests) filter returns them).
    type: list
    elements: dict
    required: true
  store:
    description: Directory of the cache (created with mode 0700); no cache when omitted.
    type: path
  timeout:
    description: Seconds to wait for one answer.
    type: int
    default: 10
seealso:
  - module: ghostguard.certs.renew_orders
"""

EXAMPLES = r"""
- name: Which certificates does the CA want renewed early?
  ansible.builtin.debug:
    msg: >-
      {{ query('ghostguard.certs.ari_windows',
               [{'directory': 'https://acme-v02.api.letsencrypt.org/directory', 'cert_ids': ['aYhba4dGQEH.AIdlQyE']}],
               store='/srv/ghostguard/store')[0].windows | dict2items | selectattr('value.due') | map(attribute='key') }}
"""

RETURN = r"""
_raw:
  description: One dict with C(windows) (certificate id -> C(start), C(end), C(due), C(retry_after), C(explanation_url),
    C(error), C(cached)) and C(warnings) (the lines also shown as warnings).
  type: list
  elements: dict
"""

import os
import typing as t

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ari_windows as _ari_windows

display = Display()


class LookupModule(LookupBase):
    def run(self, terms: list[t.Any], variables: t.Any = None, **kwargs: t.Any) -> list[dict[str, t.Any]]:
        self.set_options(var_options=variables, direct=kwargs)
        groups = []
        for term in terms:
            for group in term if isinstance(term, list) else [term]:
                if not isinstance(group, dict) or not group.get("directory") or not isinstance(group.get("cert_ids"), list):
                    raise AnsibleLookupError("ari_windows: each term must be a dict with directory and cert_ids, got %r"
                                             % (group,))
                groups.append(group)
        store = self.get_option("store")
        cache = os.path.join(store, "ari-cache.json") if store else None
        try:
            if store:
                os.makedirs(store, mode=0o700, exist_ok=True)
            windows, warnings = _ari_windows.fleet_windows(groups, cache, timeout=self.get_option("timeout"))
        except (CertsError, OSError) as exc:
            raise AnsibleLookupError("ari_windows: %s; check the store directory (renew_store)" % exc) from None
        for warning in warnings:
            display.warning(warning)
        return [{"windows": windows, "warnings": warnings}]
