# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renew.yml and rollback.yml register their converge tasks with ``failed_when: false``: a result that carries a
message and no certificates (a module that stopped on the host) is a failure, not an empty host."""

from __future__ import annotations

from ansible_collections.ghostguard.certs.plugins.filter import plan

# what a registered converge result looks like after failed_when: false when the module stopped
STOPPED = {"changed": False, "failed": False, "failed_when_result": False, "error_kind": "missing_library",
           "msg": "/usr/bin/python3, the Python that runs the collection's modules on this host, lacks cryptography"}


def test_a_stopped_observation_is_not_an_empty_host() -> None:
    observed, why = plan._observation(STOPPED)  # pylint: disable=protected-access
    assert observed is None
    assert why == "unreachable: observing failed: " + STOPPED["msg"]


def test_observations_that_worked_or_were_skipped() -> None:
    assert plan._observation({"changed": False, "certificates": [{"name": "web"}]}) == ([{"name": "web"}], None)  # pylint: disable=protected-access
    assert plan._observation({"skipped": True, "skip_reason": "Conditional result was False"}) == ([], None)  # pylint: disable=protected-access
    assert plan._observation({"unreachable": True, "msg": "ssh: connect refused"})[1] == "unreachable: ssh: connect refused"  # pylint: disable=protected-access


def test_a_stopped_rollback_fails_the_host_with_the_message() -> None:
    report = plan.rollback_report({"web-3": {"renew_converged": STOPPED},
                                   "web-1": {"renew_converged": {"changed": True, "certificates": [
                                       {"name": "web", "outcome": "rolled_back", "proved": True}]}}})
    assert report["failures"] == {"web-3": ["-: failed - the rollback task failed, nothing was rolled back: %s"
                                            % STOPPED["msg"]]}


def test_a_stopped_converge_in_the_roll_fails_the_host_with_the_message() -> None:
    rows = plan._outcomes(STOPPED, {})  # pylint: disable=protected-access
    assert rows == [{"name": None, "outcome": "failed", "stage": "roll",
                     "reason": "failed during the roll: %s; the next run observes it and finishes the roll" % STOPPED["msg"]}]


def test_the_profile_of_a_host_comes_from_certwatch_acme_or_its_primary_ca() -> None:
    assert plan._profile({"directory": "https://a/dir", "profile": "shortlived"}) == "shortlived"
    assert plan._profile([{"name": "le", "profile": "tlsserver"}, {"name": "backup", "profile": "classic"}]) == "tlsserver"
    assert plan._profile({"directory": "https://a/dir"}) is None
    assert plan._profile(None) is None and plan._profile([]) is None
