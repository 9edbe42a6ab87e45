#!/usr/bin/python
# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: renew_orders
short_description: The renew playbook's ACME work on the controller - ARI windows of the fleet, and its orders
version_added: 0.1.0
description:
  - Runs on the controller (C(delegate_to) localhost) for C(ghostguard.certs.renew), with the renew_store
    directory O(store) (ledger, lock, shared keys, ARI cache).
  - O(state=observed) asks each CA in O(ari) for the ACME Renewal Information (RFC 9773) of the given
    certificate ids - plain HTTPS GETs of the directory and of C(renewalInfo/<id>), no account needed, a few
    at a time - and returns each certificate's suggested window and whether it has opened (RV(windows)). Each
    answer is cached in C(<store>/ari-cache.json) (mode 0600) until the CA's C(Retry-After) passes (6 hours
    when it sends none, 24 hours at most). A CA without ARI, or one that fails, is reported in RV(ari_warnings)
    and its certificates come back with C(due=false) and an C(error) - decide them by the local policy.
  - O(state=issued) takes the renew_store issue lock (C(<store>/issue.lock), waiting up to O(lock_wait) seconds;
    a lock left by a dead process of this host is taken over at once) and issues O(orders) over ACME DNS-01,
    at most O(concurrency) at a time, each like M(ghostguard.certs.acme_dns01) into its store directory - a
    fresh certificate already there (issued by an earlier run or another AWX slice) is reused, not ordered
    again, unless O(orders[].force); a certificate installed there after O(planned_at) (another run ordered the
    name set meanwhile) is reused even then. Orders whose CA window is open carry ARI C(replaces).
  - When O(owner) already holds the lock (the playbook took it with M(ghostguard.certs.renew_store) before
    making keys and CSRs on the hosts), it is used as it is and left to that owner; a lock held by a lease
    (M(ghostguard.certs.renew_store) O(ghostguard.certs.renew_store#module:lease), a store on another host than the
    run) has its lease renewed while the orders run.
  - One circuit breaker per CA and run - once a request to the CA has failed past its retries because the CA
    is unreachable (connection refused or dropped, timeouts, HTTP 5xx), the run's remaining orders for that CA
    fail at once with the same reason instead of each retrying for minutes (RV(ca_unreachable)).
  - Every order the CA accepts is appended to C(<store>/ledger.json) the moment the CA accepts it (a write-ahead
    ledger), so a run that dies afterwards still counts it in the rate-limit budget; recording the same orders
    again with M(ghostguard.certs.renew_store) O(ghostguard.certs.renew_store#module:state=recorded) does not
    count them twice. The lock is released whatever happened.
  - A failed order is reported in RV(issued) and fails nothing else; the task fails only when the lock cannot be
    taken (the message names its holder) or on bad input.
author:
  - ghostguard developers (@ghostguard)
requirements:
  - cryptography >= 3.4
  - acme >= 4.0 and josepy >= 2.0
  - dnspython >= 2.0
  - aliyun-python-sdk-core >= 2.13.5 and aliyun-python-sdk-alidns >= 3.0 (only for orders with O(orders[].dns_provider=alidns))
attributes:
  check_mode:
    support: partial
    description: Nothing is ordered, locked or written in check mode.
    details: O(state=observed) asks the CAs but writes no cache; O(state=issued) orders nothing and returns an empty RV(issued).
  diff_mode:
    support: none
    description: Nothing to diff.
options:
  state:
    description: V(observed) gets the ARI windows of O(ari); V(issued) issues O(orders).
    type: str
    choices: [observed, issued]
    default: issued
  store:
    description: The renew_store directory (created with mode 0700).
    type: path
    required: true
  ari:
    description: With O(state=observed), the certificate ids to ask about, grouped by ACME directory.
    type: list
    elements: dict
    default: []
    suboptions:
      directory:
        description: URL of the ACME directory of the CA that issued the certificates.
        type: str
        required: true
      ca_bundle:
        description: PEM file of CA certificates that sign the ACME server's TLS certificate (default the system's).
        type: path
      cert_ids:
        description: RFC 9773 certificate ids (base64url AKI, a dot, base64url serial), as expiry_info returns them.
        type: list
        elements: str
        required: true
  ari_timeout:
    description: Seconds to wait for one ARI answer.
    type: int
    default: 10
  orders:
    description:
      - With O(state=issued), the orders of the plan, each with the options of M(ghostguard.certs.acme_dns01)
        (as the C(renew_acme_args) filter builds them) plus its O(orders[].id).
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        description: The order's id in the plan (the key of RV(issued)).
        type: str
        required: true
      replaces:
        description:
          - RFC 9773 certificate id of the certificate this order renews because the CA's ARI window is open; the
            order carries it as C(replaces) (when the CA offers ARI) and is recorded as exempt from the rate limits.
          - Unset, the certificate found at O(orders[].cert_path) is named when there is one.
        type: str
      ca:
        description: Name of the CA of O(orders[].acme_directory) (the primary CA of C(certwatch_acme)), reported back in RV(issued).
        type: str
      replaces_directory:
        description:
          - ACME directory of the CA that issued the certificate O(orders[].replaces) names. Only an order placed with
            that CA carries C(replaces); with another CA (a fallback) it is an ordinary order, counted in the rate limits.
        type: str
      fallback_cas:
        description:
          - The next CAs, in order, for an order its CA fails because of the CA - unreachable, an outage the run's
            breaker saw, or HTTP 5xx or 429 past the retries. The first that issues wins, in the same run. A failure
            of the order itself (its names, DNS, the account's terms) is not retried elsewhere.
          - Each CA's options replace the primary's ACME options; nothing of the primary's account is carried over.
        type: list
        elements: dict
        suboptions:
          name:
            description: The CA's name (reported in RV(issued) and written to the ledger).
            type: str
            required: true
          acme_directory:
            description: URL of this CA's ACME directory.
            type: str
          acme_ca_bundle:
            description: PEM file of CA certificates that sign this ACME server's TLS certificate.
            type: path
          account_key_content:
            description: This CA's account private key as PEM text. Never logged.
            type: str
          account_key_path:
            description: File holding this CA's account private key (created and registered when missing).
            type: path
          account_email:
            description: Contact address registered with a new account at this CA.
            type: str
          terms_agreed:
            description: Agree to this CA's terms of service when a new account must be created.
            type: bool
          eab_kid:
            description: External account binding key id at this CA.
            type: str
          eab_hmac_key:
            description: External account binding HMAC key at this CA. Never logged.
            type: str
          profile:
            description: Certificate profile to order at this CA.
            type: str
          preferred_chain:
            description: Common name of the root of the chain to install from this CA.
            type: str
          ari:
            description: Ask this CA's ACME Renewal Information (default true).
            type: bool
          timeout:
            description: Seconds this CA's order may take (default 300).
            type: int
      ari_exempt:
        description:
          - The plan counted this order as an ARI renewal, exempt from the rate limits. The ledger records what the
            CA was sent; an order placed without C(replaces) (the CA offers no ARI) is warned about.
        type: bool
        default: false
      store:
        description: The order's store directory (reported back in RV(issued)); default the directory of O(orders[].cert_path).
        type: path
      names:
        description:
          - DNS names of the certificate; the first one that fits becomes the subject CN.
          - Wildcards as a whole first label (V(*.example.com)); a wildcard and its apex in one certificate put two
            values on one TXT name, both are written and both are removed.
          - Required unless O(orders[].csr_content) or O(orders[].csr_path) is given (then the CSR's names are used, and O(orders[].names),
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
            (unless the certificate is critical, expired or O(orders[].force) is set). Renewals send C(replaces).
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
        description: Keep the existing private key at O(orders[].key_path) instead of generating a new one on renewal.
        type: bool
        default: false
      dns_provider:
        description: Where the DNS-01 TXT records are written; its settings are in the option of the same name.
        type: str
        required: true
        choices: [alidns, rfc2136]
      alidns:
        description: Alibaba Cloud DNS (Alidns API 2015-01-09) settings, for O(orders[].dns_provider=alidns).
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
        description: RFC 2136 dynamic update settings, for O(orders[].dns_provider=rfc2136).
        type: dict
        suboptions:
          server:
            description: Primary DNS server that accepts updates (host, host:port or [IPv6]:port).
            type: str
            required: true
          port:
            description: Port of O(orders[].rfc2136.server) (overrides a port given there).
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
            description: Zone to update; found from the SOA through O(orders[].rfc2136.server) when unset.
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
      renew_before:
        description:
          - Renew when less than this much validity is left.
          - A duration such as C(72h), C(30d), C(1d12h), or a number of seconds, from 0 to C(36500d).
          - Every duration option refuses non-finite (C(nan), C(inf)), negative and out-of-range values,
            naming the option and its range.
          - The larger of this and O(orders[].renew_fraction) of the lifetime wins.
          - When unset only O(orders[].renew_fraction) applies.
        type: str
      renew_fraction:
        description:
          - Share of the certificate's lifetime left at which to renew, between 0 and 1.
          - When unset, 1/3 of the lifetime, or 1/2 for certificates valid 10 days or less
            (so a 6-day certificate renews with 3 days left, a 90-day one with 30 days left).
        type: float
      leeway:
        description:
          - Clock-skew allowance, as a duration (0 to C(36500d)).
          - The certificate is treated as expiring this much sooner, and a C(not_before) up to this much
            in the future still counts as valid.
        type: str
        default: "0"
      now:
        description:
          - Evaluate the policy at this ISO 8601 time instead of the host clock, for what-if planning
            (for example C(2026-12-24T00:00:00Z)) and tests.
        type: str
      force:
        description:
          - Treat every certificate as due.
        type: bool
        default: false
  concurrency:
    description: How many orders run at the same time (1 to 32).
    type: int
    default: 4
  lock_wait:
    description: Seconds to wait for the renew_store lock held by another live run or AWX slice.
    type: int
    default: 900
  stale_after:
    description: Seconds after which a lock taken on another host is considered abandoned.
    type: int
    default: 3600
  owner:
    description:
      - Token naming this run in the lock file (default host name, process id and a random part).
      - A lock this owner holds already is used and not released (the caller releases it).
    type: str
  planned_at:
    description:
      - When the run planned (ISO 8601 UTC, the plan's C(generated_at)). A certificate installed in an order's
        store since then was ordered meanwhile by another run or AWX slice, and is reused (also with
        O(orders[].force)) instead of ordered again.
    type: str
notes:
  - Module defaults group C(ghostguard.certs.certs) applies.
  - No secret (account key, EAB key, DNS credentials) appears in a return value or a log.
seealso:
  - module: ghostguard.certs.acme_dns01
  - module: ghostguard.certs.renew_store
  - name: RFC 9773 (ARI)
    description: ACME Renewal Information.
    link: https://www.rfc-editor.org/rfc/rfc9773
"""

EXAMPLES = r"""
- name: Ask Let's Encrypt whether the fleet's certificates should be renewed now
  ghostguard.certs.renew_orders:
    state: observed
    store: /srv/ghostguard/store
    ari:
      - directory: https://acme-v02.api.letsencrypt.org/directory
        cert_ids:
          - aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE
  delegate_to: localhost
  register: ari

- name: Issue the plan's orders, three at a time, under the store lock
  ghostguard.certs.renew_orders:
    state: issued
    store: /srv/ghostguard/store
    concurrency: 3
    orders:
      - id: api
        names: [api.example.com]
        cert_path: /srv/ghostguard/store/sets/api.example.com/cert.pem
        key_path: /srv/ghostguard/store/sets/api.example.com/privkey.pem
        chain_path: /srv/ghostguard/store/sets/api.example.com/chain.pem
        fullchain_path: /srv/ghostguard/store/sets/api.example.com/fullchain.pem
        acme_directory: https://acme-v02.api.letsencrypt.org/directory
        account_key_content: "{{ vault_acme_account_key }}"
        terms_agreed: true
        dns_provider: rfc2136
        rfc2136:
          server: ns1.example.com
          key_name: acme-update
          key_secret: "{{ vault_tsig_secret }}"
        replaces: aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE
  delegate_to: localhost
  register: renew_orders
"""

RETURN = r"""
windows:
  description:
    - With O(state=observed), per certificate id, the CA's suggested renewal window.
  returned: when O(state=observed)
  type: dict
  sample:
    aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE:
      start: "2026-12-01T00:00:00Z"
      end: "2026-12-03T00:00:00Z"
      due: true
      retry_after: 1796400000
      explanation_url: null
      error: null
      cached: false
  contains:
    start:
      description: Start of the window (ISO 8601 UTC); null on error.
      type: str
    end:
      description: End of the window (ISO 8601 UTC); null on error.
      type: str
    due:
      description: Whether the window has started (false on error).
      type: bool
    retry_after:
      description: Epoch second before which the CA is not asked again (the cache holds the answer).
      type: int
    explanation_url:
      description: The CA's explanation of the window, if any.
      type: str
    error:
      description: Why there is no window (no ARI at this CA, HTTP error, timeout, bad answer); null when there is one.
      type: str
    cached:
      description: Whether the answer came from the cache.
      type: bool
ari_warnings:
  description:
    - With O(state=observed), one line per CA and problem whose ARI could not be used (also shown as warnings;
      Ansible keeps no C(warnings) key in a registered result).
  returned: when O(state=observed)
  type: list
  elements: str
issue_warnings:
  description:
    - With O(state=issued), the warnings of the orders (prefixed with the order id) and accepted orders the ledger
      could not take (also shown as warnings).
  returned: when O(state=issued)
  type: list
  elements: str
issued:
  description: With O(state=issued), per order id, what happened.
  returned: when O(state=issued)
  type: dict
  contains:
    ok:
      description: A certificate is ready in the order's store directory.
      type: bool
    ordered:
      description: It was issued in this run.
      type: bool
    reused:
      description: A fresh certificate was already there and is used as it is.
      type: bool
    accepted:
      description: The CA accepted an order (it is in the ledger even if the order then failed).
      type: bool
    replaces:
      description: The order carried ARI C(replaces) (exempt from the rate limits).
      type: bool
    reason:
      description: Why it was ordered or reused (as M(ghostguard.certs.acme_dns01) returns it).
      type: str
    msg:
      description: Why the order failed; null when ok.
      type: str
    fingerprint:
      description: SHA-256 fingerprint of the certificate in the store.
      type: str
    not_after:
      description: Its expiry (ISO 8601 UTC).
      type: str
    store:
      description: The order's store directory.
      type: str
    domains:
      description: The order's names.
      type: list
      elements: str
    order_url:
      description: URL of the ACME order placed; null when none was.
      type: str
    ca:
      description: Name of the CA that issued the certificate (or that failed last).
      type: str
    tried:
      description: The CAs that failed the order before (C(ca), C(msg)), when a fallback CA took it.
      type: list
      elements: dict
lock:
  description: The renew_store lock of O(state=issued).
  returned: when O(state=issued)
  type: dict
  contains:
    acquired:
      description: Whether the lock was taken (always true when the task did not fail).
      type: bool
    waited:
      description: Seconds spent waiting for another run.
      type: float
    broke_stale:
      description: The holder of an abandoned lock that was taken over (owner, host, boot_id, pid, time, why), or null.
      type: dict
ledger:
  description: Path of the order ledger.
  returned: when O(state=issued)
  type: str
ca_unreachable:
  description:
    - With O(state=issued), per ACME directory found unreachable in this run, why (its other orders failed at
      once with this reason, each saying so in RV(issued.msg)); empty when every CA answered.
  returned: when O(state=issued)
  type: dict
"""

import os
import sys
import uuid

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ghostguard.certs.plugins.module_utils import _time
from ansible_collections.ghostguard.certs.plugins.module_utils._acme import options as _options
from ansible_collections.ghostguard.certs.plugins.module_utils._deps import agent_interpreter, require
from ansible_collections.ghostguard.certs.plugins.module_utils._dns import registry
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ari_windows as _ari_windows
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import issuing as _issuing
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger


def argument_spec() -> dict:
    return dict(
        state=dict(type="str", default="issued", choices=["observed", "issued"]),
        store=dict(type="path", required=True),
        ari=dict(type="list", elements="dict", default=[], options=dict(
            directory=dict(type="str", required=True),
            ca_bundle=dict(type="path"),
            cert_ids=dict(type="list", elements="str", required=True),
        )),
        ari_timeout=dict(type="int", default=10),
        orders=dict(type="list", elements="dict", default=[], options=_options.order_argspec(),
                    mutually_exclusive=[("account_key_content", "account_key_path"), ("csr_content", "csr_path")],
                    required_one_of=[("account_key_content", "account_key_path")],
                    required_if=[("dns_provider", "alidns", ["alidns"]), ("dns_provider", "rfc2136", ["rfc2136"])]),
        concurrency=dict(type="int", default=4),
        lock_wait=dict(type="int", default=900),
        stale_after=dict(type="int", default=3600),
        owner=dict(type="str"),
        planned_at=dict(type="str"),
    )


def observed(module: AnsibleModule) -> None:
    params = module.params
    cache = None if module.check_mode else os.path.join(params["store"], "ari-cache.json")
    if cache:
        os.makedirs(params["store"], mode=0o700, exist_ok=True)
    windows, warnings = _ari_windows.fleet_windows(params["ari"], cache, timeout=params["ari_timeout"])
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, windows=windows, ari_warnings=warnings)


def issued(module: AnsibleModule) -> None:
    params = module.params
    if not 1 <= params["concurrency"] <= 32:
        module.fail_json(msg="concurrency must be between 1 and 32 (got %d)" % params["concurrency"])
    since = _time.parse_time(params["planned_at"], "planned_at").timestamp() if params["planned_at"] else None
    if module.check_mode:
        module.exit_json(changed=False, issued={}, lock={"acquired": False, "waited": 0.0, "broke_stale": None},
                         issue_warnings=[], ledger=os.path.join(params["store"], "ledger.json"), ca_unreachable={})
    providers = {o["dns_provider"] for o in params["orders"]}
    require("cryptography", "acme", "dnspython", "psl", *[lib for p in sorted(providers) for lib in registry.libraries(p)])
    owner = params["owner"] or "%s-%d-%s" % (os.uname()[1], os.getpid(), uuid.uuid4().hex[:8])
    # a lock held by a lease (the store on another host than the run) is renewed while the orders run
    with _ledger.keep_lease(os.path.join(params["store"], "issue.lock"), owner):
        run = _issuing.issue_orders(params["orders"], params["store"], owner, concurrency=params["concurrency"],
                                    lock_wait=params["lock_wait"], stale_after=params["stale_after"], since=since)
    for warning in run.warnings:
        module.warn(warning)
    changed = any(o["ordered"] or o["accepted"] for o in run.issued.values())
    module.exit_json(changed=changed, issued=run.issued, lock=run.lock, issue_warnings=run.warnings, ledger=run.ledger,
                     ca_unreachable=run.unreachable)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        if module.params["state"] == "observed":
            observed(module)
        else:
            issued(module)
    except CertsError as exc:
        if exc.kind == "missing_library":   # on a renew_store_host: the action plugin tries the venv's Python next
            exc.details.update(python=sys.executable, agent_python=store_python())
        module.fail_json(msg=str(exc), **exc.details)


def store_python() -> str | None:
    """Another Python of this host that may have the libraries: the certwatch agent's, else the venv at
    /opt/ghostguard (README "AWX / AAP", the store host); None when there is none."""
    venv = agent_interpreter() or "/opt/ghostguard/bin/python3"
    if not os.access(venv, os.X_OK) or os.path.normpath(venv) == os.path.normpath(sys.executable or ""):
        return None
    return venv


if __name__ == "__main__":
    main()
