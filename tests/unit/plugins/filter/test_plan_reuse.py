# SPDX-License-Identifier: GPL-3.0-or-later
"""renew.yml's filters for two runs at once (plugins/filter/plan.py): the certificate in renew_store offered to the
CSR step, and where the install takes a name set's host key from."""

from __future__ import annotations

import os
import pathlib

from certgen import TestCA

from ansible_collections.ghostguard.certs.plugins.filter import plan as _filters
from ansible_collections.ghostguard.certs.plugins.module_utils import _x509

LATER = "2999-01-01T00:00:00Z"      # planned after the stored certificate was installed
EARLIER = "2020-01-01T00:00:00Z"    # planned before: another run installed it meanwhile


def _plan(store: pathlib.Path, seen: str | None, generated_at: str = LATER) -> tuple[dict, dict]:
    order = {"id": "host:h1:edge", "set": "e.example.test", "domains": ["e.example.test"], "mode": "host_key",
             "hosts": ["h1"], "host": "h1", "name": "edge", "store": str(store), "force": False}
    plan = {"generated_at": generated_at, "orders": [order],
            "sets": [{"set": "e.example.test", "holders": [{"host": "h1", "name": "edge", "fingerprint": seen}]}]}
    return order, plan


def test_renew_reusable_offers_a_fresh_stored_certificate_the_plan_did_not_see(tmp_path: pathlib.Path) -> None:
    issued = TestCA("filter CA").issue(["e.example.test"], days=90)
    issued.write(str(tmp_path), "cert", bundle=False, key=False)
    order, plan = _plan(tmp_path, seen="aa:bb")
    assert _filters.renew_reusable(order, plan) == issued.cert_pem.decode()
    order, plan = _plan(tmp_path, seen=_x509.fingerprint(issued.cert))   # the plan judged this one due: order
    assert _filters.renew_reusable(order, plan) is None
    assert _filters.renew_reusable(order, _plan(tmp_path, seen=_x509.fingerprint(issued.cert), generated_at=EARLIER)[1]) \
        == issued.cert_pem.decode()       # ordered meanwhile by another run: reused whatever the plan saw
    forced = dict(order, force=True)
    assert _filters.renew_reusable(forced, _plan(tmp_path, "aa:bb")[1]) is None
    assert _filters.renew_reusable(forced, _plan(tmp_path, "aa:bb", EARLIER)[1]) == issued.cert_pem.decode()
    os.unlink(tmp_path / "cert.pem")
    assert _filters.renew_reusable(order, plan) is None


def test_renew_converge_args_takes_the_key_where_the_csr_step_found_it() -> None:
    items = [{"name": "edge", "order": "host:h1:edge", "mode": "host_key",
              "cert": {"name": "edge", "staging": "/h1/tls/edge/.ghostguard-next/edge"}}]
    issued = {"host:h1:edge": {"ok": True, "store": "/store/hosts/h1/edge"}}
    staged = _filters.renew_converge_args(items, issued)["bundles"]["edge"]
    assert staged["key_src_remote"] == "/h1/tls/edge/.ghostguard-next/edge/privkey.pem"
    csr = {"results": [{"item": {"id": "host:h1:edge"}, "holds_certificate": True, "key_path": "/h1/tls/edge/privkey.pem"}]}
    installed = _filters.renew_converge_args(items, issued, csr)["bundles"]["edge"]
    assert installed["key_src_remote"] == "/h1/tls/edge/privkey.pem" and installed["cert_src"] == "/store/hosts/h1/edge/cert.pem"
    other = {"results": [{"item": {"id": "host:h1:edge"}, "holds_certificate": False, "key_path": "/elsewhere"}]}
    assert _filters.renew_converge_args(items, issued, other)["bundles"]["edge"] == staged


def test_renew_converge_args_installs_the_contents_read_on_the_store_host() -> None:
    items = [{"name": "api", "order": "set:a.example.test", "mode": "shared_key", "cert": {"name": "api"}}]
    issued = {"set:a.example.test": {"ok": True, "store": "/home/u/.ghostguard/renew-store/sets/a.example.test"}}
    read = {"bundles": {"/home/u/.ghostguard/renew-store/sets/a.example.test": {
        "cert_content": "CERT", "chain_content": "CHAIN", "key_content": "KEY"}}, "ledger": []}
    args = _filters.renew_converge_args(items, issued, {}, read)
    assert args["bundles"] == {"api": {"cert_content": "CERT", "chain_content": "CHAIN", "key_content": "KEY"}}
    assert args["certificates"] == [{"name": "api"}] and args["not_issued"] == {}
    # not read (a store on the controller): the files are read by the converge action there
    assert _filters.renew_converge_args(items, issued, {}, {})["bundles"]["api"]["key_src"].endswith("privkey.pem")
