#!/usr/bin/python
# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: renew_store
short_description: Lock, order ledger and issued files of the renew playbook's store
version_added: 0.1.0
description:
  - Keeps the state that C(ghostguard.certs.renew) shares between runs and between AWX job slices in the
    directory O(path) (C(renew_store)) - the issue lock and the ledger of orders placed.
  - O(state=locked) takes the issue lock (a file created exclusively, naming the owner, the host, its boot id, the
    process of the C(ansible-playbook) run and the time), waiting up to O(wait) seconds for another run or slice
    to finish issuing. A lock whose process is gone (same host, same boot) or that an earlier boot of this host
    left is taken over at once; a lock of another host only once it is older than O(stale_after) seconds.
  - With O(lease), for a store on another host than the run (C(renew_store_host)), the lock names no process
    (the run's process is on another machine) but a lease of O(lease) seconds, set and checked by the store host's
    clock. Taking the lock again with the same O(owner) renews the lease, and so does
    M(ghostguard.certs.renew_orders) while it issues; a lock whose lease ran out (its run stopped) is taken over.
  - O(state=unlocked) removes the lock when O(owner) holds it.
  - O(state=recorded) appends O(orders) to C(ledger.json) under a file lock and drops entries older than
    a week. An order whose C(order_url) is already in the ledger (written ahead by M(ghostguard.certs.renew_orders)
    when the CA accepted it) is not added twice. The ledger feeds the rate-limit budget of the plan.
  - O(state=read) returns the ledger (RV(ledger)), the issuers the store remembers (RV(issuers)) and, for each directory of O(bundles), the certificate, chain
    and key found there (RV(bundles)) - what a run whose store is on another host plans with and installs. The
    result holds private keys, so register it with C(no_log) set.
  - Run it where the store is - on the controller (C(delegate_to) localhost), or on the store host
    (C(delegate_to) the C(renew_store_host)), which every AWX slice reaches without a shared filesystem.
author:
  - ghostguard developers (@ghostguard)
attributes:
  check_mode:
    support: full
    description: Nothing is locked or written in check mode.
  diff_mode:
    support: none
    description: Nothing to diff.
options:
  path:
    description: The store directory (created with mode 0700).
    type: path
    required: true
  state:
    description: What to do.
    type: str
    choices: [locked, unlocked, recorded, read]
    required: true
  owner:
    description: Token naming the holder of the lock; made up when taking a lock without one.
    type: str
  wait:
    description: Seconds to wait for a lock held by someone else.
    type: int
    default: 900
  stale_after:
    description: Seconds after which a lock is considered abandoned by a dead run.
    type: int
    default: 3600
  lease:
    description:
      - With O(state=locked), hold the lock by a lease of this many seconds (10 to 3600) instead of the life of the
        C(ansible-playbook) process; for a store on another host than the run.
    type: int
  bundles:
    description: With O(state=read), store directories whose C(cert.pem), C(chain.pem) and C(privkey.pem) to return.
    type: list
    elements: path
    default: []
  orders:
    description:
      - With O(state=recorded), the orders placed - each a dict with C(domains) (list), C(time) (ISO 8601 UTC,
        default now), C(replaces) (bool, ARI renewal) and optionally C(order_url).
    type: list
    elements: dict
    default: []
seealso:
  - module: ghostguard.certs.acme_dns01
"""

EXAMPLES = r"""
- name: Wait for other slices, then hold the issue lock
  ghostguard.certs.renew_store:
    path: /srv/awx-shared/ghostguard
    state: locked
  delegate_to: localhost
  register: lock

- name: Remember the orders for the rate-limit budget
  ghostguard.certs.renew_store:
    path: /srv/awx-shared/ghostguard
    state: recorded
    orders:
      - domains: [shop.example.com]
        replaces: false
  delegate_to: localhost

- name: Hold the lock of a store on another host by a lease of 2 minutes
  ghostguard.certs.renew_store:
    path: /var/lib/ghostguard/renew-store
    state: locked
    lease: 120
  delegate_to: store1.example.com
  register: remote_lock

- name: Release the lock
  ghostguard.certs.renew_store:
    path: /srv/awx-shared/ghostguard
    state: unlocked
    owner: "{{ lock.owner }}"
  delegate_to: localhost
"""

RETURN = r"""
owner:
  description: The lock holder's token (pass it to O(state=unlocked)).
  returned: always
  type: str
waited:
  description: Seconds spent waiting for the lock.
  returned: when O(state=locked)
  type: float
broke_stale:
  description:
    - The holder of an abandoned lock that was taken over (C(owner), C(host), C(boot_id), C(pid), C(time) and
      C(why) it was taken over), or null.
  returned: when O(state=locked)
  type: dict
ledger_entries:
  description: Entries in the ledger after recording (last 7 days).
  returned: when O(state=recorded)
  type: int
ledger:
  description: The orders of the ledger (each with C(time), C(domains), C(replaces), C(order_url)).
  returned: when O(state=read)
  type: list
  elements: dict
issuers:
  description: The CAs that issued the store's certificates (issuer key id to C(name) and C(directory)), for the plan.
  returned: when O(state=read)
  type: dict
bundles:
  description:
    - Per directory of O(bundles), C(cert_content), C(chain_content) and C(key_content) (the PEM files found there;
      a missing file is left out). Holds private keys.
  returned: when O(state=read)
  type: dict
"""

import os
import time
import uuid

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ghostguard.certs.plugins.module_utils import _durable
from ansible_collections.ghostguard.certs.plugins.module_utils._acme import cas as _cas
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger


def _ansible(pid: int) -> tuple[bool, int]:
    """Whether process *pid* runs ansible-playbook (or ansible), and its parent; OSError when it is gone."""
    with open("/proc/%d/cmdline" % pid, "rb") as handle:
        argv = handle.read().split(b"\0")
    with open("/proc/%d/stat" % pid, "rb") as handle:
        parent = int(handle.read().rsplit(b")", 1)[1].split()[1])
    return any(os.path.basename(a) in (b"ansible-playbook", b"ansible") for a in argv[:2]), parent


def playbook_pid() -> int | None:
    """The process of the ansible-playbook (or ansible) run above this module: the lock lasts as long as it.

    Ansible runs each task in a worker forked from that process (same command line, gone after the task), so
    the topmost of the ansible processes above this one is the run's."""
    pid = os.getppid()
    found = None
    for _hop in range(16):
        try:
            is_ansible, parent = _ansible(pid)
        except (OSError, IndexError, ValueError):
            return found
        if is_ansible:
            found = pid
        elif found is not None:
            return found
        if parent <= 1:
            return found
        pid = parent
    return found


def read_bundle(directory: str) -> dict[str, str]:
    """The PEM files of one order's store directory (cert.pem, chain.pem, privkey.pem) that exist there."""
    out = {}
    for role, name in (("cert", "cert.pem"), ("chain", "chain.pem"), ("key", "privkey.pem")):
        data = _durable.read_file(os.path.join(directory, name), 1 << 20)
        if data is not None:
            out[role + "_content"] = data.decode("utf-8", "replace")
    return out


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", required=True, choices=["locked", "unlocked", "recorded", "read"]),
            owner=dict(type="str"),
            wait=dict(type="int", default=900),
            stale_after=dict(type="int", default=3600),
            lease=dict(type="int"),
            orders=dict(type="list", elements="dict", default=[]),
            bundles=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    store = params["path"]
    owner = params["owner"] or "%s-%d-%s" % (os.uname()[1], os.getpid(), uuid.uuid4().hex[:8])
    lock = os.path.join(store, "issue.lock")
    lease = params["lease"]
    if lease is not None and not 10 <= lease <= 3600:
        module.fail_json(msg="lease must be between 10 and 3600 seconds (got %d); nothing was locked" % lease)
    try:
        if params["state"] == "read":
            module.exit_json(changed=False, owner=owner, ledger=_ledger.load_ledger(os.path.join(store, "ledger.json")),
                             issuers=_cas.load_issuers(store), bundles={d: read_bundle(d) for d in params["bundles"]})
        if params["state"] == "locked":
            if module.check_mode:
                module.exit_json(changed=False, owner=owner, waited=0.0, broke_stale=None)
            got = _ledger.acquire_lock(lock, owner, params["wait"], params["stale_after"],
                                       pid=None if lease else playbook_pid(), lease=lease)
            module.exit_json(changed=True, owner=owner, waited=got["waited"], broke_stale=got["broke_stale"])
        if params["state"] == "unlocked":
            removed = False if module.check_mode else _ledger.release_lock(lock, owner)
            module.exit_json(changed=removed, owner=owner)
        entries = []
        for order in params["orders"]:
            domains = order.get("domains")
            if not isinstance(domains, list) or not domains:
                module.fail_json(msg="every order needs domains (a list of names); got %r" % (order,))
            entries.append({"time": order.get("time") or _ledger.epoch_iso(time.time()),
                            "domains": sorted(str(d).lower() for d in domains),
                            "replaces": bool(order.get("replaces")),
                            "order_url": order.get("order_url")})
        if module.check_mode or not entries:
            module.exit_json(changed=False, owner=owner, ledger_entries=len(_ledger.load_ledger(os.path.join(store, "ledger.json"))))
        kept = _ledger.record_orders(os.path.join(store, "ledger.json"), entries)
        module.exit_json(changed=True, owner=owner, ledger_entries=len(kept))
    except CertsError as exc:
        module.fail_json(msg=str(exc), **exc.details)


if __name__ == "__main__":
    main()
