# SPDX-License-Identifier: GPL-3.0-or-later
"""Chain splitting and preferred-chain choice."""

from __future__ import annotations

from certgen import TestCA

from ansible_collections.ghostguard.certs.plugins.module_utils._acme import orders


def test_split_and_choose_chain() -> None:
    first, second = TestCA("Root One"), TestCA("Root Two")
    leaf = first.issue(["www.example.test"])
    default = (leaf.cert_pem + leaf.chain_pem).decode()
    alt_leaf = second.issue(["www.example.test"])
    alternate = (alt_leaf.cert_pem + alt_leaf.chain_pem).decode()
    assert len(orders.split_chain(default)) == 2
    assert "".join(orders.split_chain(default)) == default
    assert orders.top_issuer_cn(default) == "Root One"
    assert orders.choose_chain(default, [alternate], None) == (default, True)
    assert orders.choose_chain(default, [alternate], "Root Two") == (alternate, True)
    assert orders.choose_chain(default, [alternate], "Root One") == (default, True)
    assert orders.choose_chain(default, [alternate], "Nobody") == (default, False)
