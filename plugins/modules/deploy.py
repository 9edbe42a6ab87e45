#!/usr/bin/python
# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: deploy
short_description: Install a certificate, key and chain atomically, keep generations, roll back
version_added: 0.1.0
description:
  - Validates a certificate bundle before touching anything (PEM parses, key belongs to the
    certificate, chain links and verifies against O(ca_bundle), names cover O(expected_names), not
    expired). Any failure changes nothing and says what is wrong.
  - Writes the bundle as a new generation C(<store>/gen-N/{cert,key,chain,fullchain,combined}.pem), fsyncs
    every file and directory, and switches one symlink, C(<dir>/..<name>.data), with a single rename(2)
    in the directory of the first of O(cert_path), O(fullchain_path), O(combined_path) (as Kubernetes
    swaps C(..data) in a mounted secret). A service that watches that directory sees the switch.
  - O(cert_path), O(key_path), O(chain_path), O(fullchain_path) and O(combined_path) stay the paths
    services read. They become symlinks through C(..<name>.data) (from another directory, too), so at
    every instant all of them name files of the same generation - a reader never finds a new
    certificate beside an old key or a half-written file, even if the task is killed at any point.
    After the switch each service link is renamed onto itself (same target), an event in every
    service directory.
  - With O(in_place=true) the service paths are instead regular files rewritten in their own inodes,
    for services that watch the files themselves (see O(in_place)).
  - Missing target directories (of the service paths and of the store) are created with mode 0755.
  - Files at those paths that the store does not know (plain files, files replaced by hand, links
    elsewhere) are read as they are on disk and kept as a generation of their own before the switch,
    so O(state=rollback) can return to them - only when they form one certificate with its key and
    chain. Otherwise the task fails naming each file and what it holds, and changes nothing.
  - A store written by an earlier release (C(<store>/current) switched) is migrated by the next run,
    without a moment where a reader sees anything but the current generation.
  - Keeps O(keep) generations. O(state=rollback) makes the previous generation current again and
    keeps the one it leaves (within O(keep)), so a second rollback goes one further back and
    M(ghostguard.certs.converge) with O(ghostguard.certs.converge#module:rollback_to=newer) can roll
    forward to it; the next O(state=present) of a new certificate discards the generations rollbacks left.
    It refuses to restore a generation whose files do not form one certificate with its key and chain.
  - Idempotent - the same content again reports RV(ignore:changed=false).
author:
  - ghostguard developers (@ghostguard)
requirements:
  - cryptography >= 3.4 on the managed host
attributes:
  check_mode:
    support: full
    description: Validates and reports what would be written, writes nothing.
  diff_mode:
    support: full
    description: Shows subject, SANs, serial, not_after and fingerprint before and after; never key material.
  action:
    support: full
    description: An action plugin reads O(cert_src), O(key_src) and O(chain_src) on the controller unless O(remote_src=true).
options:
  state:
    description:
      - V(present) installs the given bundle as the current generation.
      - V(rollback) makes the generation before the current one current again.
    type: str
    choices: [present, rollback]
    default: present
  cert_content:
    description:
      - The certificate in PEM. When it holds several certificates and O(chain_content)/O(chain_src) is
        not given, the first is the leaf and the others are the chain.
      - To deploy files of the controller, use O(cert_src), or the C(ansible.builtin.file) lookup in
        the content options (see the examples).
    type: str
  key_content:
    description: The private key in PEM (unencrypted). Never logged or returned.
    type: str
  chain_content:
    description: Intermediate certificates in PEM, leaf issuer first.
    type: str
  cert_src:
    description: File with the certificate (as O(cert_content)); on the controller unless O(remote_src=true).
    type: path
  key_src:
    description: File with the private key; on the controller unless O(remote_src=true).
    type: path
  chain_src:
    description: File with the chain; on the controller unless O(remote_src=true).
    type: path
  remote_src:
    description:
      - Whether O(cert_src), O(key_src) and O(chain_src) are on the managed host (V(true)) or on the
        controller (V(false), read by the action plugin and sent like O(key_content), never logged).
    type: bool
    default: false
  cert_path:
    description:
      - Path the service reads the certificate (leaf only) from. Becomes a symlink into the store.
      - O(cert_path), O(fullchain_path) or O(combined_path) is required; the first of them places the store.
    type: path
  key_path:
    description: Path the service reads the private key from. Required with O(state=present) unless O(combined_path) is given.
    type: path
  chain_path:
    description: Path the service reads the chain (intermediates) from.
    type: path
  fullchain_path:
    description: Path the service reads the certificate followed by the chain from (nginx C(ssl_certificate)).
    type: path
  combined_path:
    description:
      - Path of one file holding the full chain followed by the private key (haproxy C(crt); nginx can
        name it in both C(ssl_certificate) and C(ssl_certificate_key)). Written with O(key_mode).
      - One file is read with one open, so even a reader that loads it during the switch sees one
        generation. Prefer it for services that may reload at any time.
    type: path
  store:
    description:
      - Directory holding the generations.
      - Default C(<directory of cert_path, fullchain_path or combined_path>/.ghostguard/<name>).
    type: path
  name:
    description:
      - Name of the store directory under C(.ghostguard).
      - Default the file name of O(cert_path) (or O(fullchain_path), O(combined_path)) without extension.
    type: str
  keep:
    description: Generations to keep (the current one included).
    type: int
    default: 3
  expected_names:
    description: DNS names or IP addresses the certificate must cover (wildcards count; a Unicode name as its A-label); otherwise refused.
    type: list
    elements: str
    default: []
  ca_bundle:
    description:
      - PEM file of trusted roots. When given, the chain must verify to one of them.
      - Without it, each chain certificate must at least have signed the one before it.
    type: path
  leeway:
    description: Clock-skew allowance - a certificate expiring within this duration is refused, one starting within it is accepted.
    type: str
    default: "0"
  owner:
    description: Owner (name or uid) of the installed files. Default the user running the task.
    type: str
  group:
    description: Group (name or gid) of the installed files.
    type: str
  mode:
    description:
      - Mode of the certificate, chain and fullchain files.
      - A world-writable mode is refused unless O(force_mode=true).
    type: str
    default: "0644"
  key_mode:
    description:
      - Mode of the private key and combined files.
      - Refused unless O(force_mode=true) - a mode that lets every user read or change the key; a
        group-readable mode without O(group) (name the group that may read it, such as C(www-data));
        a group-writable mode.
    type: str
    default: "0600"
  force_mode:
    description: Accept the modes that O(mode) and O(key_mode) refuse otherwise.
    type: bool
    default: false
  in_place:
    description:
      - Update the service paths as regular files in their own inodes (open, write, cut to length,
        fsync) instead of switching links, for services that watch the files themselves (inotify or
        fsnotify Write events on C(tls.crt) and C(tls.key)) and never see a rename elsewhere.
      - Order - the key, the chain, then the certificate files (O(combined_path), O(cert_path),
        O(fullchain_path)). A service that validates the pair (loads certificate and key together and
        keeps the old pair when they do not match) ends on the new pair; on the way it may refuse the
        new key beside the old certificate. A reader that does not validate can load that mixed pair,
        or a file in the middle of its write; that is why the default stays atomic.
      - Generations are kept in the store as usual; O(state=rollback) with O(in_place=true) writes the
        older generation back into the same files. Switching from links to O(in_place=true) (or back)
        replaces the paths once, without a new generation.
      - A crash during an in-place update may leave a mixed pair at the service paths until the next run.
    type: bool
    default: false
  from_fingerprint:
    description:
      - With O(state=rollback), roll back only when the current generation has this SHA-256 fingerprint
        (any case, colons optional), so a rerun of the same rollback task changes nothing.
    type: str
notes:
  - Which to choose - services reloaded by a signal or systemd (nginx, haproxy) and services that watch
    their directory (Envoy SDS C(watched_directory), Kubernetes-style consumers, most Go services) use
    the default; a service watching the two files for Write events needs O(in_place=true).
  - The switch is atomic for readers that open the files after it (services reloaded after the task).
    A service that opens the certificate and then the key B(during) the one rename could get one of each
    generation; it then fails to load them (nginx refuses the reload and keeps serving the old pair).
    O(combined_path) is a single file and has no such window.
  - Left-overs of a killed run are removed by the next run on the same store.
seealso:
  - module: ghostguard.certs.endpoint_info
  - module: ghostguard.certs.expiry_info
"""

EXAMPLES = r"""
- name: Install the certificate that acme_dns01 wrote on the controller (read there by the action plugin)
  ghostguard.certs.deploy:
    cert_src: /srv/certs/shop/cert.pem
    chain_src: /srv/certs/shop/chain.pem
    key_src: /srv/certs/shop/key.pem
    fullchain_path: /etc/nginx/tls/shop.pem
    key_path: /etc/nginx/tls/shop.key
    expected_names: [shop.example.com, www.shop.example.com]
    ca_bundle: /etc/ssl/certs/ca-certificates.crt
    group: www-data
    key_mode: "0640"
  register: installed
  notify: reload nginx

- name: haproxy reads one file (full chain + key), so a reload during the switch is safe too
  ghostguard.certs.deploy:
    cert_src: /srv/certs/api/fullchain.pem
    key_src: /srv/certs/api/key.pem
    combined_path: /etc/haproxy/certs/api.pem
    group: haproxy
    key_mode: "0640"

- name: Install from files already on the host
  ghostguard.certs.deploy:
    cert_src: /var/lib/acme/shop/cert.pem
    key_src: /var/lib/acme/shop/privkey.pem
    chain_src: /var/lib/acme/shop/chain.pem
    remote_src: true
    cert_path: /srv/grpc/tls/server.crt
    key_path: /srv/grpc/tls/server.key

- name: A Go service watches tls.crt and tls.key for Write events (fsnotify) - no signal, no reload
  ghostguard.certs.deploy:
    cert_path: /srv/orders/tls/tls.crt
    key_path: /srv/orders/tls/tls.key
    in_place: true
    cert_content: "{{ lookup('ansible.builtin.file', 'certs/orders.crt') }}"
    key_content: "{{ lookup('ansible.builtin.file', 'keys/orders.key') }}"

- name: The service still serves the old certificate - roll back
  ghostguard.certs.deploy:
    state: rollback
    fullchain_path: /etc/nginx/tls/shop.pem
    key_path: /etc/nginx/tls/shop.key
    from_fingerprint: "{{ installed.certificate.fingerprint_sha256 }}"
"""

RETURN = r"""
certificate:
  description:
    - The certificate that is current after the task, described with the collection's certificate keys
      (C(path), C(subject), C(sans), C(issuer), C(serial), C(fingerprint_sha256), C(not_before),
      C(not_after), C(seconds_remaining), C(lifetime_seconds), C(renew_at), C(due), C(status)).
  returned: always
  type: dict
  sample: {subject: CN=shop.example.com, fingerprint_sha256: "3a:1f:...", not_after: "2027-02-23T10:00:00Z", status: ok}
previous:
  description:
    - The certificate the service paths held before the task (as read from disk), same keys; null on a first install.
  returned: always
  type: dict
generation:
  description: Number of the generation current after the task (would be, in check mode).
  returned: always
  type: int
  sample: 4
previous_generation:
  description: Number of the generation current before the task; null when there was none.
  returned: always
  type: int
store:
  description: Directory holding the generations.
  returned: always
  type: str
  sample: /etc/nginx/tls/.ghostguard/shop
generations:
  description: Generation numbers kept in the store after the task (would be, in check mode).
  returned: always
  type: list
  elements: int
  sample: [2, 3, 4]
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ghostguard.certs.plugins.module_utils._deps import require
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError
from ansible_collections.ghostguard.certs.plugins.module_utils._install import deploy as _deploy


def argument_spec() -> dict:
    return dict(
        state=dict(type="str", choices=["present", "rollback"], default="present"),
        cert_content=dict(type="str"),
        key_content=dict(type="str", no_log=True),
        chain_content=dict(type="str"),
        cert_src=dict(type="path"),
        key_src=dict(type="path", no_log=False),
        chain_src=dict(type="path"),
        remote_src=dict(type="bool", default=False),
        cert_path=dict(type="path"),
        key_path=dict(type="path", no_log=False),
        chain_path=dict(type="path"),
        fullchain_path=dict(type="path"),
        combined_path=dict(type="path"),
        store=dict(type="path"),
        name=dict(type="str"),
        keep=dict(type="int", default=3),
        expected_names=dict(type="list", elements="str", default=[]),
        ca_bundle=dict(type="path"),
        leeway=dict(type="str", default="0"),
        owner=dict(type="str"),
        group=dict(type="str"),
        mode=dict(type="str", default="0644"),
        key_mode=dict(type="str", default="0600", no_log=False),
        from_fingerprint=dict(type="str"),
        in_place=dict(type="bool", default=False),
        force_mode=dict(type="bool", default=False),
    )


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_one_of=[("cert_path", "fullchain_path", "combined_path")],
    )
    params = module.params
    try:
        require("cryptography")
        request = _deploy.request_from_options(params, module.check_mode)
        engine = _deploy.rollback if params["state"] == "rollback" else _deploy.deploy
        result = engine(request)
    except CertsError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    facts = result.facts()
    if module._diff:
        before = result.diff.get("before") or {}
        after = result.diff.get("after") or {}
        facts["diff"] = {
            "before": before,
            "after": after,
            "before_header": os.path.join(result.store, "current"),
            "after_header": os.path.join(result.store, "gen-%s" % result.generation),
        }
    module.exit_json(changed=result.changed, **facts)


if __name__ == "__main__":
    main()
