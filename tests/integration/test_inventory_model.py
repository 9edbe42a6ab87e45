# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One inventory model: the README's, the demo's and molecule's inventories seen through every path
(renew.yml's filter, the certwatch role's variables, the agent's configuration loader) come out equal,
with the documented defaults (key privkey.pem, probe host 127.0.0.1 and port 443, SNI the first
non-wildcard domain)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import sys
import types
import typing as t

import pytest
import yaml
from ansible_run import ROOT, run_playbook
from fleet import Fleet, default_spec

from ansible_collections.ghostguard.certs.plugins.module_utils._agent import config as _config

PLAYBOOK = """
- name: See the inventory model through every path
  hosts: all
  gather_facts: false
  tasks:
    - name: The role's view (its validation, then the certificates it writes into the agent's configuration)
      ansible.builtin.import_role:
        name: ghostguard.certs.certwatch
        tasks_from: validate.yml

    - name: Write what renew.yml and the role see
      ansible.builtin.copy:
        dest: "{{ out_dir }}/{{ inventory_hostname }}.json"
        mode: "0644"
        content: >-
          {{ {'raw': certwatch_certificates, 'cert_dir': certwatch_cert_dir | default(none),
              'renew': certwatch_certificates | ghostguard.certs.inventory_certificates(certwatch_cert_dir | default(none),
                                                                                        inventory_hostname),
              'role': certwatch__certificates} | to_json }}
      delegate_to: localhost
"""


def _readme_inventory() -> dict[str, dict[str, t.Any]]:
    """Hosts built from the README's YAML blocks that set certwatch_certificates (and its certwatch_cert_dir)."""
    text = pathlib.Path(ROOT, "README.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)]
    base = next(b["certwatch_cert_dir"] for b in blocks if isinstance(b, dict) and "certwatch_cert_dir" in b)
    hosts = {}
    for index, block in enumerate(b for b in blocks if isinstance(b, dict) and "certwatch_certificates" in b):
        hosts["readme-%d" % index] = {"certwatch_certificates": block["certwatch_certificates"], "certwatch_cert_dir": base}
    assert len(hosts) >= 3, hosts
    return hosts


def _demo_inventory(tmp: pathlib.Path) -> dict[str, dict[str, t.Any]]:
    """The demo's 7 hosts as demo/run.sh writes them (tests/support/fleet.py), without starting services."""
    lab = {"issuer_roots": os.devnull}
    fleet = Fleet(str(tmp / "demo"), lab, default_spec(self_reloading=True))
    out = {}
    for host in fleet.spec:
        fleet.ports[host.name] = 8443
        fleet.services[host.name] = t.cast(t.Any, types.SimpleNamespace(binary="/usr/sbin/nginx", prefix="/p", conf="/c"))
        hv = fleet.host_vars(host)
        out["demo-" + host.name] = {k: v for k, v in hv.items() if k.startswith("certwatch_")}
    return out


def _molecule_inventory(tmp: pathlib.Path) -> tuple[dict[str, dict[str, t.Any]], dict[str, t.Any]]:
    """molecule/certwatch's inventory (group_vars all + host_vars) with its scenario file."""
    spec = yaml.safe_load(pathlib.Path(ROOT, "molecule", "certwatch", "molecule.yml").read_text())
    inventory = spec["provisioner"]["inventory"]
    common = {k: v for k, v in inventory["group_vars"]["all"].items() if not k.startswith("ansible_")}
    scenario = {"hosts": {"gg-cw-1": {"name": "cw1.example.test", "port": 8441},
                          "gg-cw-2": {"name": "cw2.example.test", "port": 8442}},
                "directory": "https://127.0.0.1:14000/dir", "ca_bundle": "/ca.pem", "account_key": "unused",
                "rfc2136": {"server": "127.0.0.1:53", "key_name": "k", "key_secret": "s"}, "nameserver": "127.0.0.1:53",
                "issuer_roots": os.devnull}
    (tmp / "scenario.json").write_text(json.dumps(scenario))
    hosts = {}
    for name, extra in inventory["host_vars"].items():
        hosts[name] = {**common, **extra}
    return hosts, scenario


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, t.Any]]:
    tmp = tmp_path_factory.mktemp("model")
    hosts: dict[str, t.Any] = {}
    hosts.update(_readme_inventory())
    hosts.update(_demo_inventory(tmp))
    molecule, _scenario = _molecule_inventory(tmp)
    hosts.update(molecule)
    for hv in hosts.values():
        hv.update(ansible_connection="local", ansible_python_interpreter=sys.executable)
    (tmp / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    (tmp / "play.yml").write_text(PLAYBOOK)
    out = tmp / "out"
    out.mkdir()
    proc = run_playbook(str(tmp / "play.yml"), {"out_dir": str(out)}, inventory=str(tmp / "inventory.yml"),
                        MOLECULE_EPHEMERAL_DIRECTORY=str(tmp))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


def _agent(certificates: list[dict[str, t.Any]], cert_dir: str | None) -> list[dict[str, t.Any]]:
    config = {"version": 1, "host": "h", "mode": "report", "state_dir": "/var/lib/x", "metrics_dir": "/var/lib/y",
              "cert_dir": cert_dir or "/etc/ghostguard/certs", "certificates": certificates}
    return t.cast(list, _config.validate(config, check_files=False)["certificates"])


def test_every_path_sees_the_same_certificates(views: dict[str, dict[str, t.Any]]) -> None:
    assert {h.split("-")[0] for h in views} == {"readme", "demo", "gg"}
    for host, view in views.items():
        cert_dir = view["cert_dir"]
        # renew.yml (filter) == the role (what it writes into the agent's configuration)
        assert view["renew"] == view["role"], host
        # == the agent loading what the role wrote, and loading the raw inventory itself
        assert _agent(view["role"], cert_dir) == view["role"], host
        if cert_dir:
            assert _agent(view["raw"], cert_dir) == view["role"], host


def test_the_documented_defaults_hold(views: dict[str, dict[str, t.Any]]) -> None:
    api = next(c for v in views.values() for c in v["role"] if c["name"] == "api" and c["domains"] == ["api.example.com"])
    assert api["probes"] == [{"host": "127.0.0.1", "port": 443, "server_name": "api.example.com",
                              "name": "api@127.0.0.1:443"}]   # the README's probe: {port: 443}
    assert api["key_path"] == "/etc/nginx/tls/api.key" and api["cert_path"] == "/etc/ghostguard/tls/api/cert.pem"
    shop = next(c for v in views.values() for c in v["role"] if c["name"] == "shop")
    assert shop["key_path"] == "/etc/ghostguard/tls/shop/privkey.pem"
    for view in views.values():
        for cert in view["role"]:
            for probe in cert["probes"]:
                assert not probe["server_name"].startswith("*"), cert
            if cert["name"] == "web":   # molecule: no key_path given
                assert cert["key_path"].endswith("/web/privkey.pem")
