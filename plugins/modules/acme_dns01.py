#!/usr/bin/python
# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_dns01
short_description: Issue or renew one certificate over ACME DNS-01 in a single task
version_added: 0.1.0
description:
  - Reads the installed certificate at O(cert_path) and applies the renewal policy (O(renew_before),
    O(renew_fraction), O(leeway), O(force)) and, when the CA offers it, ACME Renewal Information (O(ari)).
    When nothing is due the task reports C(changed=false) and places no order.
  - When due, generates a new private key where the module runs (or uses O(csr_content) / O(csr_path)),
    registers or finds the ACME account of the account key, places one order for all O(names), writes every
    DNS-01 TXT record through O(dns_provider), polls every authoritative name server (or O(nameservers))
    until each one answers every value, answers the challenges, finalizes, and downloads the chain
    (O(preferred_chain)).
  - TXT records this task wrote are removed whatever happened, also after a failure or a timeout; values
    written by others on the same name are never touched.
  - The new certificate is checked before anything is installed (key belongs to it, chain links, every name
    covered, valid now), then installed like M(ghostguard.certs.deploy) does - as a new generation of a store
    (default C(<directory of cert_path>/.ghostguard/<file name of cert_path without extension>), the store
    M(ghostguard.certs.deploy) uses for the same O(cert_path)), every file and directory fsynced, switched with
    one rename. O(cert_path), O(key_path), O(chain_path) and O(fullchain_path) become symlinks through the
    store's C(current) link, so a reader never finds a new certificate beside an old key; reading them gives
    the same bytes as before. The key is written with mode 0600. On any failure the previous files are left
    as they were. Plain files already at those paths are kept as a generation of their own first, so
    M(ghostguard.certs.deploy) with O(ghostguard.certs.deploy#module:state=rollback) can return to them.
  - Names outside O(allowed_domains) are refused before any ACME or DNS request.
  - Transient ACME failures (C(badNonce), HTTP 429 and 5xx with C(Retry-After) honoured and capped, dropped
    connections) and Alidns throttling are retried within one overall O(timeout).
  - Each renewal is logged as one JSON line (RV(renewal_log)) to the host's log.
author:
  - ghostguard developers (@ghostguard)
requirements:
  - cryptography >= 3.4
  - acme >= 4.0 and josepy >= 2.0
  - dnspython >= 2.0
  - aliyun-python-sdk-core >= 2.13.5 and aliyun-python-sdk-alidns >= 3.0 (only for O(dns_provider=alidns))
extends_documentation_fragment:
  - ghostguard.certs.policy
attributes:
  check_mode:
    support: full
    description: Reports whether a renewal is due (and why) without ordering or writing anything.
  diff_mode:
    support: none
    description: Certificates are not diffed.
options:
  names:
    description:
      - DNS names of the certificate; the first one that fits becomes the subject CN.
      - Wildcards as a whole first label (V(*.example.com)); a wildcard and its apex in one certificate put two
        values on one TXT name, both are written and both are removed.
      - A Unicode name (V(bücher.example)) is ordered as its A-label (V(xn--bcher-kva.example); IDNA 2008 with
        the UTS 46 mapping, the Python library C(idna)). A name a CA refuses fails the task before any request,
        with the reason per name. Refused are an IP address, a single label, an empty label, a label over 63 or a
        name over 253 characters, an underscore or another character than letters, digits and hyphens, a
        misplaced wildcard, and a public suffix of the Public Suffix List (V(com.cn), V(*.com)).
      - Required unless O(csr_content) or O(csr_path) is given (then the CSR's names are used, and O(names),
        when given, must equal them).
    type: list
    elements: str
    aliases: [domains]
  cert_path:
    description:
      - Where the leaf certificate (PEM) is read from and installed (a symlink into the generation store).
      - Its directory must exist; the store is placed beside it (see the description).
    type: path
    required: true
  key_path:
    description:
      - Where the private key of the certificate is installed (mode 0600; a symlink into the generation store).
      - Required unless a CSR is given (then the key stays wherever the CSR was made).
    type: path
  chain_path:
    description: Where the intermediate certificates (PEM) are installed (a symlink into the generation store).
    type: path
  fullchain_path:
    description: Where the leaf followed by the intermediates (PEM) is installed (a symlink into the generation store).
    type: path
  acme_directory:
    description: URL of the ACME directory, for example V(https://acme-v02.api.letsencrypt.org/directory).
    type: str
    required: true
  acme_ca_bundle:
    description:
      - PEM file of CA certificates that sign the ACME server's TLS certificate, for a private CA such as
        Pebble or step-ca. The system trust store is used when unset.
    type: path
  account_key_content:
    description: ACME account private key as PEM text (RSA or EC P-256/P-384). Never logged.
    type: str
  account_key_path:
    description:
      - File holding the ACME account private key. When the file does not exist, a new EC P-256 key is
        created there (mode 0600) and registered.
    type: path
  account_email:
    description: Contact address registered with a new account.
    type: str
  terms_agreed:
    description:
      - Agree to the CA's terms of service when a new account must be created.
      - Without it, only an existing account of the key is used.
    type: bool
    default: false
  eab_kid:
    description: External account binding key id, for CAs that require one (ZeroSSL, Google, Sectigo).
    type: str
  eab_hmac_key:
    description: External account binding HMAC key (base64url, as the CA shows it). Never logged.
    type: str
  profile:
    description:
      - Certificate profile to order (for example V(shortlived) or V(classic) at Let's Encrypt).
      - When the CA lists no profiles the order is placed without one and a warning says so; a profile the CA
        does not list is an error.
    type: str
  preferred_chain:
    description:
      - Common name of the root (or topmost issuer) of the chain to install, when the CA offers alternates.
      - Falls back to the default chain with a warning when no offered chain matches.
    type: str
  ari:
    description:
      - Ask the CA's ACME Renewal Information (RFC 9773) when it offers it. An open suggested window makes the
        certificate due; a window that has not opened yet postpones a renewal that the local policy would start
        (unless the certificate is critical, expired or O(force) is set). Renewals send C(replaces).
      - With ARI, a run that renews nothing still makes two unauthenticated GET requests (directory and
        renewalInfo), never an order. Set V(false) for no ACME request at all when nothing is due.
    type: bool
    default: true
  csr_content:
    description: A PEM or DER certificate signing request to have signed instead of generating a key here.
    type: str
  csr_path:
    description: File holding a certificate signing request (PEM or DER).
    type: path
  key_type:
    description: Type of the private key generated for each renewal.
    type: str
    choices: [ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096]
    default: ec-p256
  reuse_key:
    description: Keep the existing private key at O(key_path) instead of generating a new one on renewal.
    type: bool
    default: false
  dns_provider:
    description: Where the DNS-01 TXT records are written; its settings are in the option of the same name.
    type: str
    required: true
    choices: [alidns, rfc2136]
  alidns:
    description: Alibaba Cloud DNS (Alidns API 2015-01-09) settings, for O(dns_provider=alidns).
    type: dict
    suboptions:
      access_key_id:
        description: AccessKey ID of a RAM user with the Alidns (DNS) permission.
        type: str
        required: true
      access_key_secret:
        description: AccessKey secret. Never logged.
        type: str
        required: true
      region:
        description: Region id for the SDK.
        type: str
        default: cn-hangzhou
      endpoint:
        description: API endpoint (host or host:port).
        type: str
        default: alidns.aliyuncs.com
      protocol:
        description: V(https), or V(http) for a local test stand-in only.
        type: str
        choices: [https, http]
        default: https
      ttl:
        description: TTL of the TXT records (600 is the minimum on the free and personal editions).
        type: int
        default: 600
  rfc2136:
    description: RFC 2136 dynamic update settings, for O(dns_provider=rfc2136).
    type: dict
    suboptions:
      server:
        description: Primary DNS server that accepts updates (host, host:port or [IPv6]:port).
        type: str
        required: true
      port:
        description: Port of O(rfc2136.server) (overrides a port given there).
        type: int
      key_name:
        description: TSIG key name, as in the server's C(key) statement.
        type: str
      key_secret:
        description: TSIG key secret (base64, as C(tsig-keygen) prints it). Never logged.
        type: str
      key_algorithm:
        description: TSIG algorithm.
        type: str
        choices: [hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, hmac-sha1, hmac-md5]
        default: hmac-sha256
      zone:
        description: Zone to update; found from the SOA through O(rfc2136.server) when unset.
        type: str
      ttl:
        description: TTL of the TXT records.
        type: int
        default: 60
  nameservers:
    description:
      - Name servers (V(host) or V(host:port)) to ask, without recursion, for CNAMEs, zones and propagation,
        instead of the system resolver and the zone's NS records. Use it for split-horizon DNS and tests.
    type: list
    elements: str
  propagation_timeout:
    description: Seconds to wait for every authoritative server to answer every TXT value before failing (1 to 86400).
    type: int
    default: 120
  timeout:
    description: Overall deadline in seconds for the ACME exchange (retries included), at most 86400.
    type: int
    default: 300
  allowed_domains:
    description:
      - Allowlist of names this task may request. V(example.com) allows exactly that name; V(*.example.com)
        allows every name below it (wildcards included); other shell patterns such as V(shop-*.example.com)
        match as patterns.
      - A name outside it fails the task before any ACME or DNS request. Unset allows every name.
    type: list
    elements: str
notes:
  - Module defaults group C(ghostguard.certs.certs) applies.
  - A failed task returns C(msg) (what failed, for which name, and the next step) and C(error_kind) (V(input),
    V(protocol), V(dns_provider), V(propagation_timeout), V(validation), V(certificate), V(filesystem),
    V(missing_library)), plus facts
    such as C(refused) (names outside O(allowed_domains)), C(provider_code) and C(access_key_id) (Alidns errors),
    C(pending) (servers that never answered a value), C(authorizations_deactivated) and C(pip_install) (the command
    that installs a missing Python library).
  - The private key never leaves the host and is never returned.
  - With O(csr_content) or O(csr_path) there is no private key on this host - it stays where the CSR was made.
    The generations of the store then hold the certificate, chain and full chain only, and O(key_path), when
    given, is neither written nor linked (a link left there by an earlier renewal with a key then names no
    file, never the key of another certificate). Rolling back with M(ghostguard.certs.deploy) to such a
    generation while naming a key path is refused.
  - The store keeps three generations (the current one included); older ones are removed after a renewal.
seealso:
  - module: ghostguard.certs.expiry_info
  - module: ghostguard.certs.deploy
  - name: RFC 8555 (ACME)
    description: Automatic Certificate Management Environment.
    link: https://www.rfc-editor.org/rfc/rfc8555
  - name: RFC 9773 (ARI)
    description: ACME Renewal Information.
    link: https://www.rfc-editor.org/rfc/rfc9773
"""

EXAMPLES = r"""
- name: Keep shop.example.com valid, DNS-01 through Alibaba Cloud DNS
  ghostguard.certs.acme_dns01:
    names:
      - shop.example.com
      - www.shop.example.com
    cert_path: /etc/nginx/tls/shop.crt
    key_path: /etc/nginx/tls/shop.key
    fullchain_path: /etc/nginx/tls/shop.fullchain.pem
    chain_path: /etc/nginx/tls/shop.chain.pem
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_path: /etc/ghostguard/acme-account.key
    account_email: ops@example.com
    terms_agreed: true
    dns_provider: alidns
    alidns:
      access_key_id: "{{ vault_alidns_access_key_id }}"
      access_key_secret: "{{ vault_alidns_access_key_secret }}"
    allowed_domains:
      - "*.example.com"
    renew_before: 30d
  register: shop_cert
  notify: reload nginx

- name: Wildcard and apex from an internal CA, RFC 2136 with TSIG, checked on two name servers
  ghostguard.certs.acme_dns01:
    names: ["internal.example.net", "*.internal.example.net"]
    cert_path: /srv/grpc/tls/cert.pem
    key_path: /srv/grpc/tls/key.pem
    fullchain_path: /srv/grpc/tls/fullchain.pem
    acme_directory: https://ca.internal.example.net/acme/acme/directory
    acme_ca_bundle: /etc/ssl/internal-root.pem
    account_key_content: "{{ vault_acme_account_key }}"
    terms_agreed: true
    dns_provider: rfc2136
    rfc2136:
      server: ns1.internal.example.net
      key_name: acme-update
      key_secret: "{{ vault_tsig_secret }}"
      key_algorithm: hmac-sha256
    nameservers:
      - 10.0.0.53
      - 10.0.1.53
    propagation_timeout: 60
    key_type: ec-p384

- name: What would happen on Christmas Eve (check mode orders nothing)
  ghostguard.certs.acme_dns01:
    names: [shop.example.com]
    cert_path: /etc/nginx/tls/shop.crt
    key_path: /etc/nginx/tls/shop.key
    acme_directory: https://acme-v02.api.letsencrypt.org/directory
    account_key_path: /etc/ghostguard/acme-account.key
    dns_provider: alidns
    alidns:
      access_key_id: "{{ vault_alidns_access_key_id }}"
      access_key_secret: "{{ vault_alidns_access_key_secret }}"
    now: "2026-12-24T00:00:00Z"
    ari: false
  check_mode: true
  register: plan
"""

RETURN = r"""
renewed:
  description: Whether a new certificate was issued and written in this run.
  returned: always
  type: bool
reason:
  description: >-
    Why the task renewed or did not - V(not_due), V(no_certificate), V(unreadable_certificate), V(forced),
    V(names_changed), V(key_mismatch), V(expired), V(not_yet_valid), V(renewal_window), V(alert_window),
    V(connection_age), V(ari_window) or V(ari_window_not_started).
  returned: always
  type: str
  sample: renewal_window
names:
  description: The certificate's names, normalised (lowercase, no trailing dot, Unicode names as A-labels).
  returned: always
  type: list
  elements: str
certificate:
  description: >-
    The installed certificate after the task (the new one after a renewal), with the keys every module of the
    collection uses; null when there is none.
  returned: always
  type: dict
  contains:
    path: {description: File the certificate was read from or written to., type: str}
    subject: {description: Subject as an RFC 4514 string., type: str, sample: CN=shop.example.com}
    sans: {description: Subject alternative names with their type prefix., type: list, elements: str}
    issuer: {description: Issuer as an RFC 4514 string., type: str}
    serial: {description: "Serial number, lowercase hex pairs joined by colons.", type: str}
    fingerprint_sha256: {description: "SHA-256 fingerprint, lowercase hex pairs joined by colons.", type: str}
    not_before: {description: Start of validity (ISO 8601 UTC)., type: str}
    not_after: {description: End of validity (ISO 8601 UTC)., type: str}
    seconds_remaining: {description: Seconds until not_after., type: int}
    lifetime_seconds: {description: Seconds between not_before and not_after., type: int}
    renew_at: {description: When the policy makes it due (ISO 8601 UTC)., type: str}
    due: {description: Whether it is due now., type: bool}
    status: {description: "V(ok), V(due), V(critical), V(expired), V(not_yet_valid) or V(invalid).", type: str}
    reasons: {description: Why it is due (empty when it is not)., type: list, elements: str}
    key_type: {description: Public key type such as V(ec-p256)., type: str}
    is_ca: {description: Whether it is a CA certificate., type: bool}
previous:
  description: The certificate found at O(cert_path) before the task, described the same way; null when none.
  returned: always
  type: dict
ari:
  description: The CA's renewal information for the previous certificate; null when not asked or not offered.
  returned: always
  type: dict
  contains:
    cert_id: {description: RFC 9773 certificate identifier., type: str}
    window_start: {description: Start of the suggested window (ISO 8601 UTC)., type: str}
    window_end: {description: End of the suggested window (ISO 8601 UTC)., type: str}
    in_window: {description: Whether the window has started., type: bool}
    explanation_url: {description: "The CA's explanation URL, when it gives one.", type: str}
timings:
  description: >-
    Seconds spent per step - C(order), C(dns_publish), C(propagation_wait), C(validation), C(dns_cleanup),
    C(finalize), C(total); only C(total) when nothing was ordered.
  returned: always
  type: dict
  sample: {order: 0.02, dns_publish: 0.05, propagation_wait: 0.8, validation: 0.6, dns_cleanup: 0.04, finalize: 0.3, total: 2.1}
store:
  description: Directory of the generation store the certificate files link into.
  returned: always
  type: str
  sample: /etc/nginx/tls/.ghostguard/shop
generation:
  description: >-
    Number of the store's current generation after the task (the new one after a renewal); null when no
    generation is installed yet (nothing issued, or check mode).
  returned: always
  type: int
  sample: 4
account_uri:
  description: URL of the ACME account used.
  returned: when an order was placed
  type: str
order_url:
  description: URL of the ACME order.
  returned: when renewed
  type: str
chain_issuer:
  description: Common name of the issuer at the top of the installed chain.
  returned: when renewed
  type: str
dns_records:
  description: The TXT record names written (and removed again) with their zones.
  returned: always
  type: list
  elements: dict
  sample: [{name: _acme-challenge.shop.example.com, zone: example.com}]
renewal_log:
  description: The structured line logged for the renewal.
  returned: when renewed
  type: dict
  sample: {event: certificate_renewed, cert_id: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", names: [shop.example.com],
           renewal_time: "2026-11-25T03:00:00Z", next_expiry: "2027-02-23T03:00:00Z", serial: "04:a3", duration: 2.1,
           reason: renewal_window}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ghostguard.certs.plugins.module_utils._acme import options as _options
from ansible_collections.ghostguard.certs.plugins.module_utils._acme.issue import log_line, renew
from ansible_collections.ghostguard.certs.plugins.module_utils._deps import require
from ansible_collections.ghostguard.certs.plugins.module_utils._dns import registry
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError


def argument_spec() -> dict:
    """The options (one definition with renew_orders' orders: ``_options.acme_argspec``)."""
    return _options.acme_argspec()


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[("account_key_content", "account_key_path"), ("csr_content", "csr_path")],
        required_one_of=[("account_key_content", "account_key_path")],
        required_if=[("dns_provider", "alidns", ["alidns"]), ("dns_provider", "rfc2136", ["rfc2136"])],
    )
    try:
        require("cryptography", "acme", "dnspython", "psl", *registry.libraries(module.params["dns_provider"]))
        result = renew(_options.renew_request(module.params, module.check_mode))
    except CertsError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    for warning in result.warnings:
        module.warn(warning)
    line = log_line(result)
    if line:
        module.log(line)
    module.exit_json(**result.facts())


if __name__ == "__main__":
    main()
