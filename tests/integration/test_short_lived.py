# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Short-lived certificates end to end through the certwatch command: a CA of the lab issuing 6-day certificates
for the ``shortlived`` profile; every renewal keeps the profile; renew_at at half the lifetime, not critical when
due, metrics that follow the lifetime; and a CA issuing 2-minute certificates shows the timer renewing at the
policy's fraction by itself, proved by a handshake."""

from __future__ import annotations

import pathlib
import time
import typing as t

import pytest
from agent_lab import samples
from drill import AgentHost, accepted, leaf_of
from lab_fixture import LabHandle

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet.ledger import epoch_iso, parse_epoch

DAY = 86400


@pytest.fixture
def six_day_ca(lab: LabHandle) -> t.Iterator[dict[str, t.Any]]:
    ca = lab.short_lived_ca("sl6", validity=6 * DAY)
    lab.control_of(ca, ari_retry_after=1)
    try:
        yield ca
    finally:
        lab.stop_ca(ca)


def test_six_day_certificates_keep_their_profile_renew_at_half_life_and_alert_late(
        lab: LabHandle, six_day_ca: dict[str, t.Any], tmp_path: pathlib.Path) -> None:
    agent = AgentHost(tmp_path, lab.info, six_day_ca, ["sl6.example.test"], profile="shortlived").start()
    try:
        first = agent.tick()                       # the old 30-day certificate is critical: ordered, shortlived
        assert first.returncode == 0, first.stdout + first.stderr
        record = agent.records(first)["c0"]
        assert record["outcome"] == "renewed" and record["probes"][0]["served_matches"] is True, record
        leaf = leaf_of(agent.cert_path("c0"))
        start, end = _x509.not_before(leaf), _x509.not_after(leaf)
        assert abs((end - start).total_seconds() - 6 * DAY) <= 1, (start, end)   # Pebble's 6-day certificate
        orders = accepted(lab.stats_of(six_day_ca))
        assert [o["profile"] for o in orders] == ["shortlived"]
        # renew_at at half the lifetime (1/2 for 10 days or less) less the leeway; alert_before (72h) capped at half
        # of that window: the textfile says so, and the certificate is ok now
        renew_at = parse_epoch(record["renewal_time"])
        assert abs(renew_at - (end.timestamp() - 3 * DAY - 2)) <= 1, record
        prom = agent.host.prom()
        assert samples(prom, "ghostguard_cert_renew_at_timestamp_seconds")
        assert list(samples(prom, "ghostguard_cert_renew_at_timestamp_seconds").values()) == [pytest.approx(renew_at, abs=1)]
        assert 'status="ok"} 1' in prom and 'status="critical"} 1' not in prom

        def what_if(at: float) -> dict[str, t.Any]:
            proc = agent.tick("--now", epoch_iso(at), "check")
            return agent.records(proc)["c0"]

        assert what_if(renew_at - 60)["status"] == "ok"
        assert what_if(renew_at + 60)["status"] == "due"             # due, not critical: nobody is paged
        assert what_if(end.timestamp() - 1.5 * DAY - 3600)["status"] == "due"
        assert what_if(end.timestamp() - 1.5 * DAY + 3600)["status"] == "critical"   # half the window went by

        # the CA opens its ARI window early: renewed at once, with replaces, and the same profile again
        old_id = agent.ari_ids()["c0"]
        lab.control_of(six_day_ca, ari_due=True, ari_retry_after=1)
        time.sleep(1.1)                             # the last ARI answer's Retry-After
        second = agent.tick()
        assert second.returncode == 0, second.stdout + second.stderr
        record = agent.records(second)["c0"]
        assert record["outcome"] == "renewed" and record["ari"] is True, record
        orders = accepted(lab.stats_of(six_day_ca))
        assert [(o["profile"], o["replaces"]) for o in orders] == [("shortlived", None), ("shortlived", old_id)]
        assert _x509.fingerprint(leaf_of(agent.cert_path("c0"))) != _x509.fingerprint(leaf)
    finally:
        agent.stop()


def test_a_two_minute_certificate_is_renewed_by_a_timer_tick_at_the_policy_fraction(
        lab: LabHandle, tmp_path: pathlib.Path) -> None:
    """The same policy on a lifetime short enough to watch: 120 s certificates, renewed at half their life by the
    first timer run after renew_at (not before), the new one proved by a handshake."""
    ca = lab.short_lived_ca("sl120", validity=120)
    agent = AgentHost(tmp_path, lab.info, ca, ["sl120.example.test"], profile="shortlived")
    try:
        agent.start()
        first = agent.tick()
        assert first.returncode == 0, first.stdout + first.stderr
        issued = agent.records(first)["c0"]
        assert issued["outcome"] == "renewed", issued
        leaf = leaf_of(agent.cert_path("c0"))
        end = _x509.not_after(leaf)   # issued after the 30-day one it renews, it replaces it though it ends first
        renew_at = parse_epoch(issued["renewal_time"])
        assert abs(renew_at - (end.timestamp() - 60 - 2)) <= 1, issued
        early = agent.tick()                        # before renew_at: nothing to do, no order
        assert early.returncode == 0, early.stdout + early.stderr
        assert agent.records(early)["c0"]["outcome"] == "checked" and agent.records(early)["c0"]["status"] == "ok"
        assert len(accepted(lab.stats_of(ca))) == 1
        time.sleep(max(0.0, renew_at - time.time()) + 1)
        due = agent.tick()                          # the first tick after renew_at renews
        assert due.returncode == 0, due.stdout + due.stderr
        record = agent.records(due)["c0"]
        assert record["outcome"] == "renewed" and record["ari"] is False, record     # the fraction, not ARI
        assert record["probes"][0]["served_matches"] is True and not record["unproved"]
        assert record["served_fingerprint"] == _x509.fingerprint(leaf_of(agent.cert_path("c0")))
        assert record["served_fingerprint"] != _x509.fingerprint(leaf)
        orders = accepted(lab.stats_of(ca))
        assert [o["profile"] for o in orders] == ["shortlived", "shortlived"]
        assert 'status="critical"} 1' not in agent.host.prom()
    finally:
        agent.stop()
        lab.stop_ca(ca)
