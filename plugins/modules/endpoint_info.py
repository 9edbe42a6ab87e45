#!/usr/bin/python
# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: endpoint_info
short_description: Live TLS handshake - what a service really serves, and how the handshake went
version_added: 0.1.0
description:
  - Connects to O(host):O(port), performs a TLS handshake with O(server_name) as SNI (optionally with
    ALPN and a client certificate) and reports the served certificate and chain, the negotiated TLS
    version, cipher and ALPN protocol, the handshake time, whether the chain verified, and an error
    class when something failed.
  - Compares the served certificate with O(expected_fingerprint) - the proof that a reloaded service
    serves the newly installed certificate and not a ghost of the old one. With O(retries) it waits
    for the reload to take effect; with O(retry_backoff) the waits grow (bounded by O(retry_max_delay)),
    for services that reload themselves when they notice the new files (inventory C(reload.watch=true)).
  - O(endpoints) probes many endpoints concurrently in one task; options given at the top level are
    defaults for every entry.
  - Counts and parses the Signed Certificate Timestamps embedded in the leaf; with O(ct_log_list)
    their signatures are verified.
  - Read-only; runs where the task runs (use C(delegate_to) to probe from the controller).
author:
  - ghostguard developers (@ghostguard)
requirements:
  - cryptography >= 3.4 where the module runs
  - Python >= 3.10 to report the served chain (on Python 3.9 RV(endpoints[].chain) is empty and only the leaf is known)
extends_documentation_fragment:
  - ghostguard.certs.policy
attributes:
  check_mode:
    support: full
    description: The module never changes anything; it probes in check mode too.
  diff_mode:
    support: none
    description: Nothing to diff.
options:
  host:
    description: Host name or IP address to connect to. Required unless O(endpoints) is given.
    type: str
  port:
    description: TCP port.
    type: int
    default: 443
  server_name:
    description: Name sent as SNI and checked against the certificate. Default O(host). A Unicode name is sent as its A-label (IDNA 2008).
    type: str
  alpn:
    description: ALPN protocols to offer, for example V(h2) for gRPC.
    type: list
    elements: str
    default: []
  ca_bundle:
    description: PEM file of trusted roots for verification. Default the system trust store.
    type: path
  validate_certs:
    description:
      - Verify the served chain and name. When V(false), nothing is verified and RV(endpoints[].verified) is null.
      - When verification fails with V(unknown_ca), the message suggests O(ca_bundle) (a private CA's root).
      - When verification fails the certificate is still fetched (without verification) and reported.
    type: bool
    default: true
  client_cert:
    description: PEM client certificate for endpoints that require mutual TLS.
    type: path
  client_key:
    description: Private key of O(client_cert) (default - the key inside O(client_cert)).
    type: path
  expected_fingerprint:
    description:
      - SHA-256 fingerprint the served leaf must have; any case, colons optional.
      - Typically C(deploy)'s RV(ghostguard.certs.deploy#module:certificate.fingerprint_sha256).
    type: str
  retries:
    description:
      - Extra attempts after a connection failure, or while the served certificate does not match
        O(expected_fingerprint) (a reload in progress).
    type: int
    default: 0
  retry_delay:
    description: Seconds between attempts (the first wait with O(retry_backoff)), from 0 to 3600.
    type: float
    default: 1.0
  retry_backoff:
    description:
      - Multiplier of the wait between attempts, from 1 to 10. Wait before attempt n+1 is
        O(retry_delay) times O(retry_backoff) to the power n-1, never more than O(retry_max_delay).
      - V(1.0) keeps the wait constant. The number of attempts stays bounded at 1 + O(retries);
        RV(endpoints[].waited) tells how long was spent waiting.
      - For a service that reloads itself when it sees the new files (inventory C(reload.watch=true)),
        for example O(retries=10), O(retry_delay=0.5), O(retry_backoff=2), O(retry_max_delay=8) waits at most
        55.5 seconds (0.5, 1, 2, 4, then 8 each time) before calling it a ghost.
    type: float
    default: 1.0
  retry_max_delay:
    description:
      - Cap on any single wait between attempts, in seconds, from 0.01 to 3600.
      - Default no cap other than one hour per wait.
    type: float
  timeout:
    description: Seconds allowed for the TCP connection and for the TLS handshake, more than 0 and at most 86400.
    type: float
    default: 10.0
  endpoints:
    description:
      - Endpoints to probe concurrently, each a dict with the keys of the single-endpoint options
        (O(host) required) plus an optional C(name). Unset keys take the top-level values.
    type: list
    elements: dict
    suboptions:
      name: {description: Label used in messages and results. Default C(host:port)., type: str}
      host:
        description:
          - Host name or IP address (IPv6 without brackets). Every entry needs one; an entry without it fails the
            task before anything is probed, naming the entry (C(endpoints[2])).
        type: str
      port: {description: TCP port., type: int}
      server_name: {description: SNI and name to verify., type: str}
      alpn: {description: ALPN protocols to offer., type: list, elements: str}
      ca_bundle: {description: Trusted roots., type: path}
      validate_certs: {description: Verify chain and name., type: bool}
      client_cert: {description: Client certificate for mutual TLS., type: path}
      client_key: {description: Key of the client certificate., type: path}
      expected_fingerprint: {description: SHA-256 fingerprint the leaf must have., type: str}
      retries: {description: Extra attempts., type: int}
      retry_delay: {description: Seconds between attempts (the first wait with a backoff)., type: float}
      retry_backoff: {description: Multiplier of the wait between attempts (1 to 10)., type: float}
      retry_max_delay: {description: Cap on any single wait between attempts (seconds)., type: float}
      timeout: {description: Seconds for connect and handshake., type: float}
  concurrency:
    description: Endpoints probed at the same time.
    type: int
    default: 32
  ct_log_list:
    description:
      - CT log list (Chrome C(log_list.json) v3 format, or C({"logs" [{"log_id", "key", "description"}]}))
        used to verify the signatures of embedded SCTs.
    type: path
  ocsp:
    description:
      - Ask the OCSP responder named in the served leaf about its revocation status (HTTP from where
        the module runs). A certificate without an OCSP URL (Let's Encrypt since 2025) gives
        RV(endpoints[].ocsp=null) - normal, not an error.
    type: bool
    default: false
  fail_on_mismatch:
    description:
      - Fail the task when an endpoint with an expected fingerprint does not serve it (or cannot be
        reached) after all retries. A ghost is a failure, not a warning.
    type: bool
    default: true
  fail_on_error:
    description: Fail the task when any endpoint has an RV(endpoints[].error).
    type: bool
    default: false
notes:
  - Error classes - V(refused) (nothing listens), V(timeout), V(unreachable) (name does not resolve,
    no route), V(handshake_failure) (TLS alert, protocol mismatch, client certificate required, or not a TLS
    endpoint at all such as a plain-HTTP port), V(expired) (also not yet valid), V(unknown_ca),
    V(hostname_mismatch), V(invalid_input) (this endpoint's O(ca_bundle), O(client_cert) or O(client_key) is
    missing, unreadable or holds no certificate; the message names the entry, for example
    C(endpoints[2] (db1:443\)), and the file; the other endpoints are still probed).
  - Options that cannot work anywhere (an entry without O(endpoints[].host), a port outside 1-65535, a malformed
    O(expected_fingerprint), a non-finite or out-of-range O(timeout), O(retry_delay), O(retry_backoff) or
    O(retry_max_delay)) fail the task before any
    probe, naming the entry.
  - Endpoints are named C(host:port), an IPv6 address in brackets (C([::1]:443)).
  - OCSP is queried only with O(ocsp=true) and only when the certificate names a responder; a stapled
    response is not read (Python's ssl module does not expose it).
seealso:
  - module: ghostguard.certs.deploy
  - module: community.crypto.get_certificate
"""

EXAMPLES = r"""
- name: gRPC backends (ALPN h2, private CA), all at once, report only
  ghostguard.certs.endpoint_info:
    ca_bundle: /etc/ssl/internal-ca.pem
    alpn: [h2]
    fail_on_mismatch: false
    endpoints: "{{ groups['grpc'] | map('extract', hostvars, 'ansible_host')
                   | map('community.general.dict_kv', 'host') | list }}"
  delegate_to: localhost
  register: fleet

- name: Prove the new certificate is served, roll back a ghost
  block:
    - name: Probe the reloaded service for the installed fingerprint
      ghostguard.certs.endpoint_info:
        host: 127.0.0.1
        port: 443
        server_name: shop.example.com
        expected_fingerprint: "{{ installed.certificate.fingerprint_sha256 }}"
        retries: 10
        retry_delay: 0.5
  rescue:
    - name: Ghost detected - roll back to the previous generation
      ghostguard.certs.deploy:
        state: rollback
        fullchain_path: /etc/nginx/tls/shop.pem
        key_path: /etc/nginx/tls/shop.key

    - name: Stop the batch after the rollback (a rescued host would count as a success)
      ansible.builtin.fail:
        msg: "{{ ansible_failed_result.msg }}"

- name: A Go service that watches its certificate files (no signal) - wait for it with a backoff
  ghostguard.certs.endpoint_info:
    host: 127.0.0.1
    port: 8443
    server_name: orders.example.com
    alpn: [h2]
    expected_fingerprint: "{{ installed.certificate.fingerprint_sha256 }}"
    retries: 10
    retry_delay: 0.5
    retry_backoff: 2
    retry_max_delay: 8

- name: Or decide without failing - report only, then act on the result
  ghostguard.certs.endpoint_info:
    host: 127.0.0.1
    server_name: shop.example.com
    expected_fingerprint: "{{ installed.certificate.fingerprint_sha256 }}"
    fail_on_mismatch: false
  register: served_check

- name: Roll back when the service does not serve the installed certificate
  when: served_check.endpoints[0].matches_expected is not true
  ghostguard.certs.deploy:
    state: rollback
    fullchain_path: /etc/nginx/tls/shop.pem
    key_path: /etc/nginx/tls/shop.key
"""

RETURN = r"""
endpoints:
  description: One result per endpoint, in the order given (a single endpoint gives a list of one).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Label (C(host:port) unless named).
      type: str
    host:
      description: Host connected to.
      type: str
    port:
      description: Port connected to.
      type: int
    server_name:
      description: SNI sent.
      type: str
    ok:
      description: No error and, when an expected fingerprint was given, it matched.
      type: bool
    certificate:
      description:
        - The served leaf, described with the collection's keys (C(subject), C(sans), C(issuer), C(serial),
          C(fingerprint_sha256), C(not_before), C(not_after), C(seconds_remaining), C(lifetime_seconds),
          C(renew_at), C(due), C(status); C(path) is null).
        - Null when no handshake completed.
      type: dict
    chain:
      description: The other certificates served, same keys. Empty on Python 3.9.
      type: list
      elements: dict
    expected_fingerprint:
      description: The normalised expected fingerprint; null without one.
      type: str
    matches_expected:
      description: Whether the leaf has the expected fingerprint; null without one or without a handshake.
      type: bool
    tls_version:
      description: Negotiated protocol such as V(TLSv1.3).
      type: str
    cipher:
      description: Negotiated cipher suite.
      type: str
    alpn_protocol:
      description: Protocol chosen by ALPN; null when none.
      type: str
    connect_ms:
      description: TCP connect time in milliseconds.
      type: float
    handshake_ms:
      description: TLS handshake time in milliseconds.
      type: float
    verified:
      description:
        - Whether chain and name verified; false when verification refused the served certificate.
        - Null with O(validate_certs=false), and when no handshake happened (refused, timeout, not TLS, invalid input).
      type: bool
    error:
      description: Error class; null when the handshake succeeded.
      type: str
      sample: hostname_mismatch
    error_message:
      description: What went wrong and what to do.
      type: str
    attempts:
      description: Handshake attempts made (at most 1 + O(retries)).
      type: int
    waited:
      description: Seconds spent waiting between attempts (the sum of the waits of O(retry_delay), O(retry_backoff)).
      type: float
      sample: 7.5
    scts:
      description: Embedded SCTs with C(version), C(log_id) (base64), C(log_id_hex), C(timestamp), C(entry_type),
        C(hash_algorithm), C(signature_algorithm), C(log_description) and C(signature_valid) (null unless verified
        with O(ct_log_list)).
      type: list
      elements: dict
    ocsp:
      description: >-
        With O(ocsp=true) and a certificate naming a responder - C(url), C(status) (V(good), V(revoked),
        V(unknown)), C(this_update), C(next_update), C(revocation_time), C(signature_valid) and C(error).
        Null otherwise.
      type: dict
summary:
  description: C(total), C(ok), C(mismatched) and C(errors) (count per error class).
  returned: always
  type: dict
  sample: {total: 50, ok: 49, mismatched: 1, errors: {}}
certificate:
  description: With O(host) (single endpoint), the keys of RV(endpoints[]) are also returned at the top level.
  returned: when O(host) is given
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ghostguard.certs.plugins.module_utils._argspec import policy_argspec
from ansible_collections.ghostguard.certs.plugins.module_utils._deps import require
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError
from ansible_collections.ghostguard.certs.plugins.module_utils._tls.probe import (
    ProbeRequest,
    probe_endpoints,
    require_ok,
)


def main() -> None:
    argument_spec = policy_argspec()
    argument_spec.update(
        host=dict(type="str"),
        port=dict(type="int", default=443),
        server_name=dict(type="str"),
        alpn=dict(type="list", elements="str", default=[]),
        ca_bundle=dict(type="path"),
        validate_certs=dict(type="bool", default=True),
        client_cert=dict(type="path"),
        client_key=dict(type="path", no_log=False),
        expected_fingerprint=dict(type="str"),
        retries=dict(type="int", default=0),
        retry_delay=dict(type="float", default=1.0),
        retry_backoff=dict(type="float", default=1.0),
        retry_max_delay=dict(type="float"),
        timeout=dict(type="float", default=10.0),
        endpoints=dict(
            type="list",
            elements="dict",
            options=dict(
                name=dict(type="str"),
                host=dict(type="str"),  # required: checked by the engine, which names the entry
                port=dict(type="int"),
                server_name=dict(type="str"),
                alpn=dict(type="list", elements="str"),
                ca_bundle=dict(type="path"),
                validate_certs=dict(type="bool"),
                client_cert=dict(type="path"),
                client_key=dict(type="path", no_log=False),
                expected_fingerprint=dict(type="str"),
                retries=dict(type="int"),
                retry_delay=dict(type="float"),
                retry_backoff=dict(type="float"),
                retry_max_delay=dict(type="float"),
                timeout=dict(type="float"),
            ),
        ),
        concurrency=dict(type="int", default=32),
        ct_log_list=dict(type="path"),
        ocsp=dict(type="bool", default=False),
        fail_on_mismatch=dict(type="bool", default=True),
        fail_on_error=dict(type="bool", default=False),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("host", "endpoints")],
        required_one_of=[("host", "endpoints")],
    )
    try:
        require("cryptography")
        request = ProbeRequest.from_options(module.params)
        result = probe_endpoints(request)
        require_ok(request, result)
    except CertsError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    module.exit_json(changed=False, **result.facts())


if __name__ == "__main__":
    main()
