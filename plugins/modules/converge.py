#!/usr/bin/python
# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: converge
short_description: Install what was issued, reload what serves another certificate, prove, roll back
version_added: 0.1.0
description:
  - Per host, per certificate of the inventory model (C(certwatch_certificates)), in order - install the
    new bundle when it is newer than the files (through the generation store, as M(ghostguard.certs.deploy)
    does); reload the service when a probe serves another certificate than the files (a ghost), and only
    then; prove by TLS handshake that every probe serves the files' fingerprint and record the proof in the
    store (C(<store>/proved.json)); when the reload or the proof of a new install fails, roll back to the
    previous generation, reload and prove it.
  - Idempotent and resumable - every step is decided from what is observed, so a run stopped anywhere
    (before or after the install, the reload, during the proof or a rollback) is finished by the next run
    with the same bundles, and no new certificate is ever needed for it.
  - A service that watches its own files (its C(reload) is C(watch)) gets no signal; it is waited for with growing waits
    (O(prove.watch_retries) and the other C(watch_*) settings).
  - A certificate without a probe is installed but not proved (its C(proved) is null).
  - The module does not fail when a certificate fails (its C(outcome) in RV(certificates) is V(failed) or
    V(rolled_back)); the playbook decides. It fails only on bad input.
  - renew.yml, rollback.yml and the certwatch agent use the same engine.
author:
  - ghostguard developers (@ghostguard)
requirements:
  - cryptography >= 3.4 on the managed host - for the host's Python (Debian/Ubuntu package python3-cryptography),
    or the certwatch agent's venv there, which the action plugin uses when the host's Python lacks it
attributes:
  check_mode:
    support: full
    description: V(observed) only reads; V(converged) and V(rolled_back) report what they would do and change nothing.
  diff_mode:
    support: none
    description: Nothing is shown as a diff; each certificate's outcome says what changed.
  action:
    support: full
    description: >-
      An action plugin reads O(bundles) C(cert_src), C(chain_src) and C(key_src) on the controller, and runs the
      module with the host's Python, or with the certwatch agent's venv Python where the host's lacks cryptography
      (remembered in the fact C(ghostguard_certs_python)); else one error naming the fix.
options:
  certificates:
    description:
      - The host's certificates, normalised (C(ghostguard.certs) inventory model) - each with C(name),
        C(domains), C(cert_path), C(key_path), C(chain_path), C(fullchain_path), C(owner), C(group), C(mode),
        C(reload), C(probes) (or C(probe)), C(issue_on), C(in_place), and optionally C(keep) and C(store).
      - The module normalises them again (defaults filled in).
    type: list
    elements: dict
    required: true
  bundles:
    description:
      - New certificates to install, by certificate name; only the certificates that got one.
      - Each value holds C(cert_src), C(chain_src) and C(key_src) (files on the controller, read by the
        action plugin into C(cert_content), C(chain_content) and C(key_content)), or those contents, or
        C(key_src_remote) - a key already on the host (made there, in the certificate's staging directory). A
        C(key_src_remote) that is gone while the files already hold that certificate (another run installed it
        and removed the staged key) means nothing is left to install.
      - The whole option is never logged (it carries private keys).
    type: dict
    default: {}
  state:
    description:
      - V(observed) - report each certificate's files, what each probe serves and the store; change nothing.
      - V(converged) - install, reload, prove, roll back as described above.
      - V(rolled_back) - make another kept generation current (O(rollback_to)), reload, prove it. The generation
        a rollback leaves is kept (within C(keep)) for a roll forward, until a new certificate is installed.
    type: str
    choices: [observed, converged, rolled_back]
    default: converged
  rollback_to:
    description:
      - With O(state=rolled_back), where to go.
      - V(previous) - the generation before the current one, once - a rerun after a finished rollback of the
        current files changes nothing.
      - V(older) - one generation further back than the current one, on every run (a deliberate second rollback).
      - V(newer) - roll forward to the next newer generation a rollback left; nothing (outcome V(unchanged)) when
        the newest kept generation is current.
      - A rollback or roll forward that was interrupted is finished first, whatever is asked.
    type: str
    choices: [previous, older, newer]
    default: previous
  prove:
    description:
      - How long to wait for a service to serve the new certificate after a reload.
    type: dict
    suboptions:
      retries:
        description: Extra probes after a systemd, signal or command reload (default 20).
        type: int
      retry_delay:
        description: Seconds between them (default 0.5).
        type: float
      watch_retries:
        description: Extra probes for a service that watches its files (its C(reload) is C(watch); default 10).
        type: int
      watch_retry_delay:
        description: First wait for such a service, in seconds (default 0.5).
        type: float
      watch_backoff:
        description: Each further wait is the previous one times this (default 2).
        type: float
      watch_max_delay:
        description: Longest single wait, in seconds (default 8).
        type: float
  policy:
    description: The renewal policy the files are described with (C(certwatch_policy)).
    type: dict
    suboptions:
      renew_before:
        description: Renew when less than this is left (duration such as V(30d)).
        type: str
      renew_fraction:
        description: Renew when this share of the lifetime is left.
        type: float
      leeway:
        description: Clock-skew allowance.
        type: str
      alert_before:
        description: Critical when less than this is left (at most half the renewal window, renew_at to notAfter).
        type: str
      max_connection_age:
        description: Longest-lived client connection (renew early enough for it).
        type: str
      revocation_check:
        description:
          - Ask OCSP or the CRL whether each certificate was revoked (a revoked one is due); on unless V(false).
        type: bool
  names:
    description: Limit to these certificate names (default every certificate given).
    type: list
    elements: str
  agent:
    description:
      - Where the certwatch agent would be on the host (the role's C(certwatch_bin) and C(certwatch_config_path));
        RV(agent) says whether it is installed, so that a play can let the role's handlers act only there
        without a task of its own on every host.
    type: dict
    default: {}
    suboptions:
      bin:
        description: The C(certwatch) command.
        type: path
        default: /usr/local/bin/certwatch
      config:
        description: The agent's configuration file.
        type: path
        default: /etc/ghostguard/certwatch.json
notes:
  - Reloads run on the managed host as its C(reload) says - C(systemctl reload), a signal to the PID in
    C(pidfile), or the C(command) argv.
seealso:
  - module: ghostguard.certs.deploy
  - module: ghostguard.certs.endpoint_info
"""

EXAMPLES = r"""
- name: Install the new certificate of shop, reload nginx only if needed, prove it
  ghostguard.certs.converge:
    certificates: "{{ certwatch_certificates }}"
    bundles:
      shop:
        cert_src: "{{ renew_store }}/orders/shop/cert.pem"
        chain_src: "{{ renew_store }}/orders/shop/chain.pem"
        key_src: "{{ renew_store }}/orders/shop/privkey.pem"
  register: converged

- name: Stop the batch when a certificate was rolled back
  ansible.builtin.assert:
    that: converged.certificates | selectattr('outcome', 'in', ['failed', 'rolled_back']) | list | length == 0

- name: Only look - which services serve another certificate than their files
  ghostguard.certs.converge:
    certificates: "{{ certwatch_certificates }}"
    state: observed
  register: seen

- name: Restore the previous certificate of api, reload, prove
  ghostguard.certs.converge:
    certificates: "{{ certwatch_certificates }}"
    names: [api]
    state: rolled_back

- name: Undo that rollback - back to the certificate it left, reload, prove
  ghostguard.certs.converge:
    certificates: "{{ certwatch_certificates }}"
    names: [api]
    state: rolled_back
    rollback_to: newer
"""

RETURN = r"""
certificates:
  description:
    - One entry per certificate, in order.
    - With O(state=observed) - C(name), C(path), C(status) (the files' status), C(description), C(error),
      C(fingerprint), C(key_match), C(ari_cert_id), C(probes) (C(endpoint), C(server_name),
      C(served_fingerprint), C(served_matches), C(error), C(error_message)), C(ghost), C(unproved),
      C(generation), C(states).
    - Otherwise - C(name), C(outcome) (V(renewed), V(unchanged), V(repaired), V(rolled_back),
      V(rolled_forward), V(failed)), C(reason), C(fingerprint), C(not_after), C(generation), C(proved), C(reload),
      C(reloaded), C(attempted_fingerprint) (an install's new certificate, or the one a rollback left),
      C(from_generation) and C(from_not_after) (the generation a rollback or roll forward left, and its expiry),
      C(previous_served), C(states) (what was observed first), C(timings) (C(install), C(reload), C(proof)
      seconds), C(started_at) and C(finished_at) (ISO 8601 UTC to the millisecond, the report's timeline), C(probes).
  returned: always
  type: list
  elements: dict
  sample:
    - {name: shop, outcome: renewed, fingerprint: "5e:1f:...", generation: 4, proved: true, reload: systemd,
       reloaded: true, states: [due], timings: {install: 0.02, reload: 0.3, proof: 0.5}}
agent:
  description: Whether the certwatch agent is installed on the host (its command and configuration exist), and whether
    systemd runs its unit (C(certwatch.service) installed and systemd is PID 1).
  returned: always
  type: dict
  sample: {installed: true, systemd: false}
summary:
  description: Counts by outcome (or by state with O(state=observed)), and C(total).
  returned: always
  type: dict
  sample: {total: 2, renewed: 1, unchanged: 1}
"""

import os
import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ghostguard.certs.plugins.module_utils._deps import agent_interpreter, require
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import (
    CertsError,
    InputError,
    MissingLibraryError,
)
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import inventory as _inventory
from ansible_collections.ghostguard.certs.plugins.module_utils._install import converge as _converge

CHANGES = ("renewed", "repaired", "rolled_back", "rolled_forward")


def argument_spec() -> dict:
    return dict(
        certificates=dict(type="list", elements="dict", required=True),
        bundles=dict(type="dict", default={}, no_log=True),
        state=dict(type="str", choices=["observed", "converged", "rolled_back"], default="converged"),
        rollback_to=dict(type="str", choices=["previous", "older", "newer"], default="previous"),
        prove=dict(type="dict", options=dict(
            retries=dict(type="int"), retry_delay=dict(type="float"), watch_retries=dict(type="int"),
            watch_retry_delay=dict(type="float"), watch_backoff=dict(type="float"), watch_max_delay=dict(type="float"))),
        policy=dict(type="dict", options=dict(
            renew_before=dict(type="str"), renew_fraction=dict(type="float"), leeway=dict(type="str"),
            alert_before=dict(type="str"), max_connection_age=dict(type="str"), revocation_check=dict(type="bool"))),
        names=dict(type="list", elements="str"),
        agent=dict(type="dict", default={}, options=dict(
            bin=dict(type="path", default="/usr/local/bin/certwatch"),
            config=dict(type="path", default="/etc/ghostguard/certwatch.json"))),
    )


def normalise(certs: list, names: list | None) -> list:
    """The certificates through the one inventory model (checked, defaults filled in), limited to *names*."""
    problems = _inventory.certificate_problems("this host", certs)
    if problems:
        raise InputError("certificates: %s; fix the host's certwatch_certificates" % "; ".join(problems))
    normal = [_inventory.normalize_certificate(c) for c in certs]
    unknown = sorted(set(names or []) - {c["name"] for c in normal})
    if unknown:
        raise InputError("names: no certificate named %s on this host (it has %s); nothing was changed"
                         % (", ".join(unknown), ", ".join(c["name"] for c in normal) or "none"))
    return [c for c in normal if not names or c["name"] in names]


def agent_found(paths: dict) -> dict:
    """Whether the certwatch agent is installed here, and run by systemd (what the role's handlers need)."""
    installed = all(os.path.exists(p) for p in (paths["bin"], paths["config"]))
    systemd = os.path.exists("/etc/systemd/system/certwatch.service") and os.path.isdir("/run/systemd/system")
    return {"installed": installed, "systemd": installed and systemd}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    policy = {k: v for k, v in (params["policy"] or {}).items() if v is not None}
    try:
        try:
            require("cryptography")
        except MissingLibraryError as exc:  # the action plugin runs the module again with the agent's Python
            exc.details.update(python=sys.executable, agent_python=agent_interpreter(params["agent"]["bin"]))
            raise
        certs = normalise(params["certificates"], params["names"])
        if params["state"] == "observed":
            results = _converge.observe(certs, policy)
            module.exit_json(changed=False, certificates=results, summary=_converge.summary(results),
                             agent=agent_found(params["agent"]))
        chosen = {c["name"]: c for c in certs}
        bundles = {}
        for name, value in (params["bundles"] or {}).items():
            if name not in chosen:
                continue
            cert = chosen[name]
            bundle = _converge.bundle_from_options(name, value or {}, cert["domains"], policy,
                                                   cert.get("cert_path") or cert.get("fullchain_path"))
            if bundle is not None:   # None: installed already by another run (its staged key is gone)
                bundles[name] = bundle
        results = _converge.converge(
            certs, bundles, prove=params["prove"], policy=policy, check_mode=module.check_mode,
            target=params["rollback_to"] if params["state"] == "rolled_back" else "newest")
        if not module.check_mode:
            _converge.discard_staging(params["bundles"] or {}, results)
    except CertsError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    changed = any(r["outcome"] in CHANGES or r["reloaded"] for r in results)
    module.exit_json(changed=changed, certificates=results, summary=_converge.summary(results),
                     agent=agent_found(params["agent"]))


if __name__ == "__main__":
    main()
