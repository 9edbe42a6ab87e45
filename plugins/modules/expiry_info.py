#!/usr/bin/python
# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: expiry_info
short_description: Report expiry and a renewal decision for many certificate files in one call
version_added: 0.1.0
description:
  - Reads every certificate file named by O(paths) (files, directories, globs), describes each one,
    and applies the renewal policy to say which are due.
  - PEM files may hold a bundle (leaf first, then its chain); the leaf is reported and the chain is
    described under RV(certificates[].chain). DER files hold one certificate. PKCS#7 (C(.p7b)) and
    PKCS#12 (C(.p12)/C(.pfx)) files are listed in RV(errors) with the C(openssl) command that converts them.
  - The status of a file is the worst of what a client is served - an expired, not yet valid, or
    critical (less than O(alert_before) left) chain certificate makes the file so, with the reason
    V(chain_expired), V(chain_not_yet_valid) or V(chain_critical), without O(ca_bundle).
  - A file holds one leaf. A second leaf (a certificate that is no CA, not self-issued and issued nothing in
    the file) makes the file V(invalid) with the reason V(second_leaf); it is described in
    RV(certificates[].chain) with its own status and named in RV(certificates[].chain_error).
  - Files that cannot be read or parsed, and directories that cannot be listed (no permission without
    C(become)), are listed in RV(errors) and do not fail the task unless O(fail_on_invalid=true). An
    unreadable directory is never taken for an empty one.
  - Directory walks never enter C(deploy)'s generation stores (C(.ghostguard/) directories) nor
    entries named C(..<something>) (switching links such as C(..data)); each service path is read once,
    through its link into the current generation. An empty chain file of such a service path (a
    certificate without intermediates) is skipped. A path named directly is always read.
  - Also reports the host's clock synchronisation state, because a skewed clock makes a valid
    certificate look expired.
  - Read-only. Hundreds of files take well under a second.
author:
  - ghostguard developers (@ghostguard)
requirements:
  - cryptography >= 3.4 on the managed host - for the host's Python (Debian/Ubuntu package python3-cryptography),
    or the certwatch agent's venv there, which the action plugin uses when the host's Python lacks it
extends_documentation_fragment:
  - ghostguard.certs.policy
attributes:
  check_mode:
    support: full
    description: The module never changes anything.
  diff_mode:
    support: none
    description: Nothing to diff.
  action:
    support: full
    description: >-
      An action plugin runs the module with the host's Python, or with the certwatch agent's venv Python where the
      host's lacks cryptography (remembered in the fact C(ghostguard_certs_python)); else one error naming the fix.
options:
  paths:
    description:
      - Certificate files, directories and glob patterns to read.
      - In a directory, files matching O(patterns) and not O(excludes) are read; files that hold
        only a private key and CA certificates (unless O(include_ca)) are skipped there.
      - A file named directly is always reported.
    type: list
    elements: path
    required: true
  ignore_missing:
    description:
      - Skip entries of O(paths) that do not exist instead of listing them in RV(errors).
      - Useful for one path list across a fleet where each host has some of the places.
    type: bool
    default: false
  recurse:
    description: Descend into subdirectories of directories in O(paths) (and let C(**) match in globs).
    type: bool
    default: false
  patterns:
    description: File name patterns read inside directories.
    type: list
    elements: str
    default: ["*.pem", "*.crt", "*.cer", "*.cert", "*.der"]
  excludes:
    description: File name patterns skipped inside directories.
    type: list
    elements: str
    default: ["*.key", "privkey*.pem", "*.key.pem", "*-key.pem", "*.csr"]
  include_ca:
    description: Also report CA certificates found by directory walks (for example C(chain.pem)).
    type: bool
    default: false
  alert_before:
    description:
      - Status becomes V(critical) when less than this much validity is left (after O(leeway)).
      - Capped at half the certificate's renewal window (renew_at to notAfter), so alerts follow the lifetime
        (a 6-day certificate renewed at 3 days left is critical at 1.5 days left, not the moment it is due).
      - The default is the 72 hours that would have prevented the incident this collection was written for.
      - A duration from 0 to 36500d, like the other policy durations.
    type: str
    default: 72h
  key_match:
    description:
      - Find the private key beside each certificate and check that it belongs to it.
      - The key is C(privkey.pem) beside C(cert.pem) or C(fullchain.pem), else the same stem with
        C(.key) (C(site.crt) and C(site.key)), C(.key.pem) or C(-key.pem).
      - A key that does not match makes the status V(invalid). No key found reports RV(certificates[].key_match=null).
    type: bool
    default: false
  ca_bundle:
    description:
      - PEM file of trusted CA certificates. When given, the chain of each certificate (from its own
        bundle) is verified to one of them; a broken chain makes the status V(invalid).
    type: path
  max_connection_age:
    description:
      - A duration from 0 to 36500d.
      - Longest time a client connection stays open (gRPC C(max_connection_age), keep-alive pools).
      - A certificate is due when its remaining life (less O(leeway)) does not exceed this plus
        O(connection_margin), because connections opened now would outlive it.
    type: str
  connection_margin:
    description: Safety margin added to O(max_connection_age).
    type: str
    default: 1h
  fail_on_invalid:
    description: Fail the task when a file cannot be read or parsed, a directory cannot be listed, or a certificate is V(invalid).
    type: bool
    default: false
notes:
  - Statuses, most severe first - V(invalid) (key mismatch or broken chain), V(not_yet_valid),
    V(expired), V(critical) (less than O(alert_before) left), V(due), V(ok).
    RV(summary.counts) lists them in this order, RV(summary.worst) names the most severe one present.
seealso:
  - module: ghostguard.certs.acme_dns01
  - module: ghostguard.certs.endpoint_info
"""

EXAMPLES = r"""
- name: Report every certificate under /etc/nginx/tls and each Let's Encrypt live full chain
  ghostguard.certs.expiry_info:
    paths:
      - /etc/nginx/tls
      - /etc/letsencrypt/live/*/fullchain.pem
    key_match: true
  register: expiry

- name: Fail when anything has less than three days left
  ansible.builtin.assert:
    that: expiry.summary.counts.critical + expiry.summary.counts.expired == 0
    fail_msg: >-
      {{ expiry.certificates | selectattr('status', 'in', ['critical', 'expired'])
         | map(attribute='path') | list }}

- name: What will be due on Christmas Eve, with short-lived certificates renewed at half-life
  ghostguard.certs.expiry_info:
    paths: /srv/grpc/certs
    recurse: true
    now: "2026-12-24T00:00:00Z"
    renew_before: 30d
    leeway: 5m
    max_connection_age: 24h
    ca_bundle: /etc/ssl/internal-ca.pem
  register: plan
"""

RETURN = r"""
certificates:
  description: One entry per certificate file, soonest expiry first.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: File the certificate was read from.
      type: str
      returned: always
      sample: /etc/nginx/tls/shop.pem
    subject:
      description: Subject as an RFC 4514 string.
      type: str
      returned: always
      sample: CN=shop.example.com
    sans:
      description: Subject alternative names with their type prefix.
      type: list
      elements: str
      returned: always
      sample: ["DNS:shop.example.com", "IP:10.0.0.5"]
    issuer:
      description: Issuer as an RFC 4514 string.
      type: str
      returned: always
      sample: CN=R11,O=Let's Encrypt,C=US
    serial:
      description:
        - Serial number as lowercase hex pairs joined by colons, as OpenSSL prints it.
        - A negative serial (forbidden by RFC 5280, issued by some old CAs) has a leading minus, like
          C(openssl x509 -serial) prints it (V(-30:39)).
      type: str
      returned: always
      sample: "04:a3:9f:11"
    fingerprint_sha256:
      description: SHA-256 fingerprint of the DER certificate as lowercase hex pairs joined by colons.
      type: str
      returned: always
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
      returned: always
      sample: "2026-11-01T00:00:00Z"
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      returned: always
      sample: "2027-01-30T00:00:00Z"
    seconds_remaining:
      description: Seconds until RV(certificates[].not_after); negative once expired.
      type: int
      returned: always
    lifetime_seconds:
      description: Seconds between not_before and not_after.
      type: int
      returned: always
    renew_at:
      description: When the policy makes the certificate due, ISO 8601 UTC.
      type: str
      returned: always
    due:
      description: Whether the certificate should be renewed now.
      type: bool
      returned: always
    status:
      description: One of V(ok), V(due), V(critical), V(expired), V(not_yet_valid), V(invalid).
      type: str
      returned: always
    reasons:
      description:
        - Why it is due, any of V(forced), V(renewal_window), V(alert_window), V(connection_age),
          V(expired), V(not_yet_valid), V(key_mismatch), V(key_unreadable), V(chain_invalid),
          V(chain_expired), V(chain_not_yet_valid), V(chain_critical) (a chain certificate of the file is so),
          V(second_leaf) (the file holds a second, unrelated leaf).
      type: list
      elements: str
      returned: always
    key_type:
      description: Public key type such as V(ec-p256) or V(rsa-2048).
      type: str
      returned: always
    is_ca:
      description: Whether the certificate is a CA certificate.
      type: bool
      returned: always
    format:
      description: V(pem) or V(der).
      type: str
      returned: always
    chain:
      description:
        - The other certificates of a PEM bundle, described with the same keys (C(path) is null).
        - A CA certificate is not renewed by the policy - its status is V(ok), V(critical), V(expired) or
          V(not_yet_valid), and it counts in the file's status.
      type: list
      elements: dict
      returned: always
    key_path:
      description: The private key file found beside the certificate, or null.
      type: str
      returned: when O(key_match=true)
    key_match:
      description: Whether that key belongs to the certificate; null when no key was found or it was unreadable.
      type: bool
      returned: when O(key_match=true)
    key_error:
      description: Why the key check failed.
      type: str
      returned: when the key check failed
    chain_valid:
      description: Whether the chain verifies to O(ca_bundle).
      type: bool
      returned: when O(ca_bundle) is set
    chain_error:
      description: What is wrong with the chain - it does not verify to O(ca_bundle), or the file holds a second leaf.
      type: str
      returned: when the chain does not verify, or with a second leaf
due:
  description: Paths of the certificates that are due.
  returned: always
  type: list
  elements: str
summary:
  description: Counts and the soonest expiry.
  returned: always
  type: dict
  contains:
    total:
      description: Certificates reported.
      type: int
      returned: always
    counts:
      description: Certificates per status; every status is present.
      type: dict
      returned: always
      sample: {"invalid": 0, "not_yet_valid": 0, "expired": 0, "critical": 1, "due": 2, "ok": 10}
    due:
      description: Certificates due.
      type: int
      returned: always
    errors:
      description: Files listed in RV(errors).
      type: int
      returned: always
    worst:
      description: The most severe status of the certificates reported; null without certificates.
      type: str
      returned: always
      sample: critical
    soonest:
      description: The C(path), C(subject), C(not_after), C(seconds_remaining) and C(status) of the soonest expiry; null without certificates.
      type: dict
      returned: always
errors:
  description:
    - Files that could not be read or parsed, and directories that could not be listed, each with C(path)
      and C(error); a directory also has C(kind=directory).
  returned: always
  type: list
  elements: dict
  sample:
    - {"path": "/etc/nginx/tls/old.pem", "error": "certificate #1 of the PEM data is corrupt or truncated"}
    - {"path": "/etc/ssl/private", "kind": "directory", "error": "cannot list directory: Permission denied; certificates
       in it were not read (run with become, or grant read and search access)"}
clock:
  description: The host's kernel clock discipline as adjtimex(2) reports it.
  returned: always
  type: dict
  contains:
    synchronized:
      description: Whether the kernel clock is synchronised; null when unknown.
      type: bool
      returned: always
    state:
      description: Kernel clock state such as V(ok) or V(unsynchronized).
      type: str
      returned: always
    estimated_error_seconds:
      description: Estimated clock error in seconds.
      type: float
      returned: always
    max_error_seconds:
      description: Maximum clock error in seconds.
      type: float
      returned: always
    source:
      description: Always V(adjtimex).
      type: str
      returned: always
now:
  description: The time the policy was evaluated at, ISO 8601 UTC.
  returned: always
  type: str
"""

import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ghostguard.certs.plugins.module_utils._argspec import policy_argspec
from ansible_collections.ghostguard.certs.plugins.module_utils._deps import agent_interpreter, require
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError, MissingLibraryError
from ansible_collections.ghostguard.certs.plugins.module_utils._expiry import (
    DEFAULT_EXCLUDES,
    DEFAULT_PATTERNS,
    ScanRequest,
    require_valid,
    scan,
)


def main() -> None:
    argument_spec = policy_argspec()
    argument_spec.update(
        paths={"type": "list", "elements": "path", "required": True},
        ignore_missing={"type": "bool", "default": False},
        recurse={"type": "bool", "default": False},
        patterns={"type": "list", "elements": "str", "default": list(DEFAULT_PATTERNS)},
        excludes={"type": "list", "elements": "str", "default": list(DEFAULT_EXCLUDES)},
        include_ca={"type": "bool", "default": False},
        alert_before={"type": "str", "default": "72h"},
        key_match={"type": "bool", "default": False},
        ca_bundle={"type": "path"},
        max_connection_age={"type": "str"},
        connection_margin={"type": "str", "default": "1h"},
        fail_on_invalid={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        try:
            require("cryptography")
        except MissingLibraryError as exc:  # the action plugin runs the module again with the agent's Python
            exc.details.update(python=sys.executable, agent_python=agent_interpreter())
            raise
        request = ScanRequest.from_options(module.params)
        result = scan(request)
        require_valid(request, result)
    except CertsError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    module.exit_json(changed=False, **result.facts())


if __name__ == "__main__":
    main()
