# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The CAs of certwatch_acme: the list form, its validation, fallbacks, which CA issued what, budgets per CA."""

from __future__ import annotations

import os
import pathlib
import typing as t

from ansible_collections.ghostguard.certs.plugins.module_utils._acme import cas as _cas
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError, ProtocolError
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import inventory as _inventory
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import issuing as _issuing
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import schedule as _schedule

PRIMARY = {"name": "le", "directory": "https://le.test/dir", "eab_hmac_key": "c2VjcmV0", "limits": {"orders_per_3h": 2}}
SECOND = {"name": "zerossl", "directory": "https://zs.test/dir", "eab_kid": "kid-1"}


def test_a_mapping_is_one_ca_named_after_its_directory_host() -> None:
    assert _cas.ca_list({"directory": "https://acme-v02.api.letsencrypt.org/directory"})[0]["name"] == \
        "acme-v02.api.letsencrypt.org"
    assert [c["name"] for c in _cas.ca_list([PRIMARY, SECOND])] == ["le", "zerossl"]
    assert _cas.ca_list(None) == [] and _cas.ca_list(["x"]) == [] and _cas.primary("nonsense") == {}
    assert _cas.primary([PRIMARY, SECOND])["directory"] == "https://le.test/dir"


def _problems(acme: t.Any) -> list[str]:
    hv = {"certwatch_acme": acme, "certwatch_dns": {"provider": "rfc2136", "rfc2136": {"server": "127.0.0.1"}}}
    return _inventory._validate_shared("h1", hv)


def test_the_list_form_is_validated_entry_by_entry() -> None:
    assert _problems([PRIMARY, SECOND]) == []
    assert _problems(dict(PRIMARY)) == []
    got = _problems([{"directory": "https://a/dir"}, {"name": "b b", "directory": "https://b/dir"},
                     {"name": "c", "directory": "https://c/dir", "limits": {"orders_per_hour": 3, "per_name_set_week": 0}},
                     {"name": "c", "directory": "https://d/dir", "terms_agreed": "yes"}, "x", {"name": "e"}])
    text = "\n".join(got)
    assert "certwatch_acme[0].name: every CA of a list needs a name of its own" in text
    assert "certwatch_acme[1].name" in text and "'b b'" in text
    assert "certwatch_acme[2].limits: unknown key 'orders_per_hour'" in text
    assert "certwatch_acme[2].limits.per_name_set_week: must be a whole number of orders (1 or more), got 0" in text
    assert "certwatch_acme[3].name: the name 'c' is also the name of certwatch_acme[2]" in text
    assert "certwatch_acme[3].terms_agreed: must be true or false" in text
    assert "certwatch_acme[4]: must be a dict, got str" in text
    assert "certwatch_acme[5].directory: must be the ACME directory URL" in text
    assert "an empty list" in _problems([])[0]
    assert "unknown key 'limit'" in "\n".join(_problems({"directory": "https://a/dir", "limit": {}}))


def test_an_order_falls_back_with_the_next_cas_options_and_replaces_only_where_issued() -> None:
    order = {"id": "set:a", "names": ["a.test"], "cert_path": "/s/cert.pem", "acme_directory": "https://le.test/dir",
             "eab_hmac_key": "c2VjcmV0", "account_key_path": "/s/account.key", "ca": "le", "replaces": "AKI.SER",
             "ari_exempt": True, "replaces_directory": "https://le.test/dir",
             "fallback_cas": [{"name": "zerossl", "acme_directory": "https://zs.test/dir", "eab_kid": "kid-1",
                               "account_key_path": "/s/account-zerossl.key"}]}
    first, second = _issuing._attempts(order)
    assert first["acme_directory"] == "https://le.test/dir" and first["replaces"] == "AKI.SER" and first["ari_exempt"]
    assert "fallback_cas" not in first and "replaces_directory" not in first
    assert second["ca"] == "zerossl" and second["acme_directory"] == "https://zs.test/dir"
    assert second["account_key_path"] == "/s/account-zerossl.key" and "eab_hmac_key" not in second  # not the primary's
    assert second["replaces"] is None and second["ari_exempt"] is False
    assert second["names"] == ["a.test"] and second["cert_path"] == "/s/cert.pem"


def test_only_failures_of_the_ca_move_an_order_to_the_next_ca() -> None:
    assert _cas.ca_failure(ProtocolError("down", ca_unreachable=True))
    assert _cas.ca_failure(ProtocolError("429 past the retries", ca_failure=True))
    assert not _cas.ca_failure(ProtocolError("ACME order failed: rejectedIdentifier"))
    assert not _cas.ca_failure(InputError("bad names"))
    assert not _cas.ca_failure(ValueError("bug"))


def test_the_issuing_ca_is_remembered_by_issuer_key_id(tmp_path: pathlib.Path) -> None:
    store = str(tmp_path)
    cas = _cas.ca_list([PRIMARY, SECOND])
    assert _cas.issuing_ca("AKI2.SER", cas, {})["name"] == "le"  # unknown issuer: the primary
    _cas.remember_issuer(store, "AKI2.SER9", {"name": "zerossl", "directory": "https://zs.test/dir"})
    assert oct(os.stat(tmp_path / _cas.ISSUERS_FILE).st_mode & 0o777) == "0o600"
    issuers = _cas.load_issuers(store)
    assert issuers == {"AKI2": {"name": "zerossl", "directory": "https://zs.test/dir"}}
    assert _cas.issuing_ca("AKI2.OTHER", cas, issuers)["name"] == "zerossl"
    assert _cas.issuing_ca("AKI2.OTHER", cas[:1], issuers)["name"] == "le"  # that CA is no longer configured
    assert _cas.issuer_known("AKI2.X", issuers) == "zerossl" and _cas.issuer_known(None, issuers) is None
    assert _cas.issuing_ca("x", [], issuers) is None
    (tmp_path / _cas.ISSUERS_FILE).write_text("[broken")
    assert _cas.load_issuers(store) == {}


def test_assign_gives_an_order_its_cas_and_drops_the_ari_exemption_toward_another_ca() -> None:
    cas = _cas.ca_list([PRIMARY, SECOND])
    order: dict[str, t.Any] = {"replaces": "A.1", "ari_exempt": True}
    _cas.assign(order, [{"ari_cert_id": "A.1", "ca_directory": "https://zs.test/dir"}], cas)
    assert order["ca"] == "le" and order["fallback"] == ["zerossl"]
    assert order["replaces_directory"] == "https://zs.test/dir" and order["ari_exempt"] is False
    same: dict[str, t.Any] = {"replaces": "A.1", "ari_exempt": True}
    _cas.assign(same, [{"ari_cert_id": "A.1", "ca_directory": "https://le.test/dir"}], cas)
    assert same["ari_exempt"] is True


def test_the_budget_is_counted_per_ca_with_its_own_limits() -> None:
    now = 1_800_000_000.0
    ledger = [{"time": "2027-01-15T06:00:00Z", "domains": ["x%d.test" % i], "directory": "https://le.test/dir"}
              for i in range(2)]
    orders = [{"id": "o%d" % i, "domains": ["n%d.test" % i], "ca_directory": d, "deadline": now + 86400 * 20}
              for i, d in enumerate(["https://le.test/dir", "https://zs.test/dir", "https://zs.test/dir"])]
    cas = _cas.ca_list([PRIMARY, SECOND])
    verdict = _schedule.schedule_per_ca(orders, ledger, {"orders_per_3h": 100}, cas, now=_ledger_now(now))
    assert [d["id"] for d in verdict["deferred"]] == ["o0"]      # le: 2 of its 2 per 3 h used already
    assert verdict["deferred"][0]["ca"] == "le" and verdict["admitted"] == 2
    assert verdict["per_ca"] == {"le": dict(verdict["per_ca"]["le"], orders_per_3h=2),
                                 "zerossl": dict(verdict["per_ca"]["zerossl"], orders_per_3h=100)}
    assert {c["ca"] for c in verdict["checks"]} == {"le", "zerossl"}
    # an entry recorded before the ledger named its CA counts for every CA
    old = [{"time": "2027-01-15T06:00:00Z", "domains": ["n1.test"]}] * 5
    verdict = _schedule.schedule_per_ca(orders, old, {"per_name_set_week": 5}, cas, now=_ledger_now(now))
    assert any(d["id"] == "o1" for d in verdict["deferred"])


def _ledger_now(now: float) -> float:
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet.ledger import parse_epoch

    return parse_epoch("2027-01-15T07:00:00Z")
