#!/usr/bin/python
# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: csr
short_description: Make a private key on the host and return a certificate signing request for it
version_added: 0.1.0
description:
  - Generates a private key at O(key_path) on the managed host (mode 0600, in a directory of mode 0700) and
    returns a CSR for O(names), so that C(ghostguard.certs.acme_dns01) can order on the controller with
    O(ghostguard.certs.acme_dns01#module:csr_content) while the key never leaves the host.
  - An existing key at O(key_path) is reused (a rerun after a failed order sends the same public key), unless
    O(regenerate=true).
  - With O(certificate) (a certificate already issued for these names, for example by another run) and no key at
    O(key_path), the key at O(installed_key_path) is used when it is that certificate's key - the host already holds
    it, so the CSR asks for nothing new and the certificate is reused; otherwise a new key is made as usual.
  - Used by the C(ghostguard.certs.renew) playbook for name sets held by a single host.
author:
  - ghostguard developers (@ghostguard)
requirements:
  - cryptography >= 3.4 on the managed host - for the host's Python (Debian/Ubuntu package python3-cryptography),
    or the certwatch agent's venv there, which the action plugin uses when the host's Python lacks it
attributes:
  check_mode:
    support: full
    description: Reports whether a key would be made; writes nothing and returns no CSR.
  diff_mode:
    support: none
    description: Keys are not diffed.
  action:
    support: full
    description: >-
      An action plugin runs the module with the host's Python, or with the certwatch agent's venv Python where the
      host's lacks cryptography (remembered in the fact C(ghostguard_certs_python)); else one error naming the fix.
options:
  key_path:
    description: Where the private key is kept on the host until it is installed.
    type: path
    required: true
  names:
    description:
      - DNS names of the CSR (the first one that fits becomes the subject CN).
      - A Unicode name is written as its A-label (IDNA 2008 with the UTS 46 mapping); a name a CA refuses
        (an IP address, an underscore, an empty or over-long label, a misplaced wildcard) fails the task.
    type: list
    elements: str
    required: true
  key_type:
    description: Type of a newly generated key.
    type: str
    choices: [ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096]
    default: ec-p256
  regenerate:
    description: Make a new key even when one exists at O(key_path).
    type: bool
    default: false
  certificate:
    description:
      - PEM of a certificate already issued for O(names). When no key is staged at O(key_path) and the key at
        O(installed_key_path) is this certificate's key, the CSR is made for that key (nothing is written) and
        RV(holds_certificate) is true.
    type: str
  installed_key_path:
    description: Where the host keeps the installed key of the certificate (its C(key_path)), checked against O(certificate).
    type: path
notes:
  - The key is never returned; only the CSR and the SHA-256 of the public key are.
seealso:
  - module: ghostguard.certs.acme_dns01
  - module: ghostguard.certs.deploy
"""

EXAMPLES = r"""
- name: Key on the host, CSR to the controller
  ghostguard.certs.csr:
    key_path: /etc/nginx/tls/.ghostguard-next/shop/privkey.pem
    names: [shop.example.com]
  register: shop_csr

- name: Order on the controller; only the CSR travelled
  ghostguard.certs.acme_dns01:
    csr_content: "{{ shop_csr.csr }}"
    cert_path: /srv/renew/shop/cert.pem
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_path: /srv/renew/account.key
    dns_provider: rfc2136
    rfc2136:
      server: ns1.example.com
  delegate_to: localhost
"""

RETURN = r"""
csr:
  description: The certificate signing request in PEM; empty in check mode.
  returned: always
  type: str
key_path:
  description: Where the key is (O(installed_key_path) when the host holds the key of O(certificate) there).
  returned: always
  type: str
public_key_sha256:
  description: SHA-256 of the DER public key (hex); empty in check mode when no key exists yet.
  returned: always
  type: str
reused:
  description: Whether an existing key was used.
  returned: always
  type: bool
holds_certificate:
  description: Whether the CSR's key is the key of O(certificate) (staged at O(key_path) or installed at O(installed_key_path)).
  returned: always
  type: bool
"""

import hashlib
import os
import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ghostguard.certs.plugins.module_utils import _domains, _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._acme import keys as _keys
from ansible_collections.ghostguard.certs.plugins.module_utils._deps import agent_interpreter, require
from ansible_collections.ghostguard.certs.plugins.module_utils._durable import os_error, read_file, write_atomic
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError, MissingLibraryError

try:
    from cryptography.hazmat.primitives import serialization
except ImportError:  # reported by _deps.require("cryptography")
    serialization = None


def _public_sha256(key) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _write_key(path: str, data: bytes) -> None:
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise os_error("create the key directory", folder, exc) from None
    write_atomic(path, data, 0o600)


def _held_key(certificate: str, installed_key_path: str | None):
    """The key at *installed_key_path* when it is the key of *certificate* (PEM), else None."""
    leaf = _x509.load_certificates(certificate.encode("utf-8"), "certificate")[0][0]
    data = read_file(installed_key_path) if installed_key_path else None
    if data is None:
        return None
    try:
        key = _x509.load_private_key(data, installed_key_path)
    except CertsError:
        return None  # unreadable: not the certificate's key; a new one is made
    return key if _x509.public_key_matches(leaf, key) else None


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            key_path=dict(type="path", required=True, no_log=False),
            names=dict(type="list", elements="str", required=True),
            key_type=dict(type="str", default="ec-p256", choices=list(_keys.KEY_TYPES)),
            regenerate=dict(type="bool", default=False),
            certificate=dict(type="str"),
            installed_key_path=dict(type="path", no_log=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    path = params["key_path"]
    try:
        try:
            require("cryptography")
        except MissingLibraryError as exc:  # the action plugin runs the module again with the agent's Python
            exc.details.update(python=sys.executable, agent_python=agent_interpreter())
            raise
        # the controller checked the names against the Public Suffix List; a host need not have it
        names = [_domains.to_ascii(n, suffixes=None) for n in params["names"]]
        key = None
        existing = None if params["regenerate"] else read_file(path)
        if existing is not None:
            key = _x509.load_private_key(existing, path)
        elif params["certificate"]:
            key = _held_key(params["certificate"], params["installed_key_path"])
            if key is not None:
                path = params["installed_key_path"]   # the host holds the certificate's key already: nothing to stage
        reused = key is not None
        if key is None and module.check_mode:
            module.exit_json(changed=True, csr="", key_path=path, public_key_sha256="", reused=False,
                             holds_certificate=False)
        if key is None:
            key = _keys.generate_key(params["key_type"])
            if not module.check_mode:
                _write_key(path, _keys.key_to_pem(key))
        der = _keys.build_csr(key, names)
        holds = bool(params["certificate"]) and _x509.public_key_matches(
            _x509.load_certificates(params["certificate"].encode("utf-8"), "certificate")[0][0], key)
    except CertsError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    pem = "-----BEGIN CERTIFICATE REQUEST-----\n%s\n-----END CERTIFICATE REQUEST-----\n" % "\n".join(
        _b64_lines(der))
    module.exit_json(changed=not reused, csr=pem, key_path=path, public_key_sha256=_public_sha256(key), reused=reused,
                     holds_certificate=holds)


def _b64_lines(der: bytes) -> list:
    import base64

    text = base64.b64encode(der).decode()
    return [text[i:i + 64] for i in range(0, len(text), 64)]


if __name__ == "__main__":
    main()
