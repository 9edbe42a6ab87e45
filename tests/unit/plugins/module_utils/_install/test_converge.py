# SPDX-License-Identifier: GPL-3.0-or-later
"""converge() and observe() on real files, a real generation store and real TLS servers: install, reload,
prove, roll back, and every interruption point finished by the next run with no new certificate."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import re
import signal
import typing as t

import pytest
from certgen import Issued, TestCA
from services import TLSServer

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._install import bundle as _bundle
from ansible_collections.ghostguard.certs.plugins.module_utils._install import converge as _converge
from ansible_collections.ghostguard.certs.plugins.module_utils._install import deploy as _deploy
from ansible_collections.ghostguard.certs.plugins.module_utils._install import observe as _observe

FAST = {"retries": 3, "retry_delay": 0.1, "watch_retries": 3, "watch_retry_delay": 0.05, "watch_backoff": 2.0,
        "watch_max_delay": 0.2}


def fp(issued: Issued) -> str:
    return _x509.fingerprint(issued.cert)


def bundle_of(issued: Issued) -> _bundle.Bundle:
    return _bundle.build_bundle(issued.cert_pem, issued.key_pem, issued.chain_pem)


class Site:
    """One certificate of the inventory model, its files in a temp dir, and a TLS service reading them."""

    def __init__(self, root: pathlib.Path, ca: TestCA) -> None:
        self.root, self.ca = root, ca
        folder = root / "certs" / "web"
        self.cert = {
            "name": "web", "domains": ["web.test"], "set": "web.test", "cert_path": str(folder / "cert.pem"),
            "key_path": str(folder / "privkey.pem"), "chain_path": str(folder / "chain.pem"),
            "fullchain_path": str(folder / "fullchain.pem"), "owner": None, "group": None, "mode": None,
            "reload": None, "probes": [], "issue_on": "controller", "in_place": False, "keep": 3, "key_type": None,
        }
        self.srv: TLSServer | None = None
        self.reloads = 0
        self.deaf = False  # a service that ignores its reload signal (keeps serving what it has)
        pidfile = root / "svc.pid"
        pidfile.write_text("%d\n" % os.getpid())
        self.cert["reload"] = {"signal": "USR1", "pidfile": str(pidfile)}

    def deploy(self, issued: Issued) -> None:
        """What a run's install step does (deploy through the store), and nothing else."""
        _converge._install(_Bare(self.cert, bundle_of(issued)))

    def serve(self) -> TLSServer:
        self.srv = TLSServer(self.cert["fullchain_path"], self.cert["key_path"]).start()
        self.cert["probes"] = [{"host": "127.0.0.1", "port": self.srv.port, "server_name": "web.test",
                                "validate_certs": False, "timeout": 3, "name": "web@127.0.0.1:%d" % self.srv.port}]
        return self.srv

    def on_signal(self, *_args: t.Any) -> None:
        """The service's SIGUSR1 handler (the reload {signal: USR1, pidfile} of the certificate)."""
        self.reloads += 1
        if self.srv is not None and not self.deaf:
            self.srv.reload()

    def converge(self, bundles: dict[str, t.Any] | None = None, **kw: t.Any) -> dict[str, t.Any]:
        return _converge.converge([self.cert], bundles or {}, prove=FAST, **kw)[0]

    def observe(self) -> dict[str, t.Any]:
        return _converge.observe([self.cert], {"renew_before": "30d"})[0]

    def served(self) -> str:
        assert self.srv is not None
        return t.cast(str, _observe.probe_cert(self.cert, None)[0]["served_fingerprint"])

    def marker(self) -> dict[str, t.Any] | None:
        store = _observe.store_state(self.cert)[0]
        return _observe.read_json(store, _observe.MARKER)


class _Bare:
    """The minimum of a run that :func:`_converge._install` needs (to simulate a run stopped after it)."""

    def __init__(self, cert: dict[str, t.Any], bundle: t.Any) -> None:
        self.cert, self.bundle = cert, bundle
        self.timings = {"install": 0.0}
        self.out: dict[str, t.Any] = {}
        self.opts = {"log": lambda _line: None, "policy": _observe.policy_of({})}

    def refresh(self) -> None:
        self.out["generation"], self.out["fingerprint"] = _observe.store_state(self.cert)[1:]

    def log(self, _message: str) -> None:
        return None


@pytest.fixture
def site(tmp_path: pathlib.Path) -> t.Iterator[Site]:
    s = Site(tmp_path, TestCA("converge unit root"))
    previous = signal.signal(signal.SIGUSR1, s.on_signal)
    try:
        yield s
    finally:
        signal.signal(signal.SIGUSR1, previous)
        if s.srv is not None:
            s.srv.stop()


def issue(site: Site, days: int = 90, age: int = 0) -> Issued:
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=age)
    return site.ca.issue(["web.test"], days=days, not_before=start)


def test_fresh_install_is_renewed_and_proved(site: Site) -> None:
    first = issue(site)
    site.deploy(first)
    site.serve()
    new = issue(site)
    lines: list[str] = []
    out = site.converge({"web": bundle_of(new)}, log=lines.append)
    assert out["outcome"] == "renewed" and out["proved"] is True and out["reloaded"] is True
    assert out["fingerprint"] == fp(new) and out["attempted_fingerprint"] == fp(new)
    assert site.reloads == 1 and out["generation"] == 2 and out["states"] == ["ok", "unproved"]  # the first generation was never proved
    assert set(out["timings"]) == {"install", "reload", "proof"}
    # the report's timeline: when the steps began and ended (ISO 8601 UTC, milliseconds)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", out["started_at"]) and out["finished_at"] >= out["started_at"]
    marker = site.marker() or {}
    assert marker["generation"] == 2 and marker["fingerprint"] == fp(new)
    assert any("installed generation 2" in line for line in lines) and any("reload (signal) done" in line for line in lines)
    # idempotent: the same bundle again changes nothing, reloads nothing
    again = site.converge({"web": bundle_of(new)})
    assert again["outcome"] == "unchanged" and again["proved"] is True and site.reloads == 1


def ghost_of(site: Site, other: Issued) -> None:
    """Make the service serve *other* (what it has in memory) while its files hold another certificate."""
    assert site.srv is not None
    files = (site.srv.cert_file, site.srv.key_file)
    site.srv.cert_file = other.write(str(site.root / "memory"), "old")
    site.srv.key_file = str(site.root / "memory" / "old.key")
    site.srv.reload()
    site.srv.cert_file, site.srv.key_file = files


def test_ghost_on_a_proved_certificate_is_repaired(site: Site) -> None:
    current = issue(site)
    site.deploy(current)
    site.serve()
    assert site.converge()["outcome"] == "unchanged"  # proves and marks what is served already
    assert site.reloads == 0 and (site.marker() or {})["fingerprint"] == fp(current)
    ghost_of(site, issue(site))
    seen = site.observe()
    assert seen["ghost"] is True and seen["unproved"] is False and seen["states"] == ["ok", "ghost"]
    out = site.converge()
    assert out["outcome"] == "repaired" and out["proved"] is True and out["reloaded"] is True
    assert out["states"] == ["ok", "ghost"] and site.reloads == 1 and out["generation"] == 1


def test_observe_reports_files_store_and_served(site: Site) -> None:
    first = issue(site)
    site.deploy(first)
    site.serve()
    seen = site.observe()
    assert seen["status"] == "ok" and seen["fingerprint"] == fp(first) and seen["key_match"] is True
    assert seen["unproved"] is True and seen["ghost"] is False and seen["states"] == ["ok", "unproved"]
    assert seen["generation"] == 1 and seen["ari_cert_id"] and "." in seen["ari_cert_id"]
    assert seen["probes"][0]["served_fingerprint"] == fp(first) and seen["probes"][0]["served_matches"] is True
    quiet = _converge.observe([site.cert], {}, probe=False)[0]
    assert quiet["probes"] == [] and quiet["unproved"] is True
    missing = dict(site.cert, name="gone", cert_path=str(site.root / "nope" / "cert.pem"), probes=[])
    gone = _converge.observe([missing], {})[0]
    assert gone["status"] == "missing" and gone["fingerprint"] is None and gone["generation"] is None


def test_stopped_after_install_before_reload(site: Site) -> None:
    site.deploy(issue(site))
    site.serve()
    new = issue(site)
    site.deploy(new)  # the run stopped here: installed, never reloaded
    assert site.observe()["states"] == ["ok", "ghost", "unproved"]
    out = site.converge({"web": bundle_of(new)})
    assert out["outcome"] == "renewed" and out["proved"] is True and site.reloads == 1
    assert out["generation"] == 2 and out["fingerprint"] == fp(new)  # no new generation written


def test_stopped_after_reload_before_proof(site: Site) -> None:
    site.deploy(issue(site))
    srv = site.serve()
    new = issue(site)
    site.deploy(new)
    srv.reload()  # reloaded; the run stopped before (or during) its proof: no marker
    out = site.converge({"web": bundle_of(new)})
    assert out["outcome"] == "renewed" and out["proved"] is True and out["reloaded"] is False and site.reloads == 0
    assert (site.marker() or {})["generation"] == 2
    assert site.converge({"web": bundle_of(new)})["outcome"] == "unchanged"


def test_failed_proof_is_rolled_back_and_the_previous_proved(site: Site) -> None:
    old = issue(site)
    site.deploy(old)
    site.serve()
    site.deaf = True  # reloading changes nothing: the new certificate is never served
    new = issue(site)
    out = site.converge({"web": bundle_of(new)})
    assert out["outcome"] == "rolled_back" and out["previous_served"] is True and out["proved"] is True
    assert out["attempted_fingerprint"] == fp(new) and out["fingerprint"] == fp(old)
    assert out["reason"].startswith("proof failed after install") and out["failure"] == "proof" and site.reloads == 2
    assert _x509.fingerprint(_x509.load_certificates(pathlib.Path(site.cert["cert_path"]).read_bytes())[0][0]) == fp(old)
    pending = _observe.read_json(_observe.store_state(site.cert)[0], _observe.PENDING) or {}
    assert pending["done"] is True and pending["attempted_fingerprint"] == fp(new)


def test_stopped_during_a_rollback_is_finished(site: Site) -> None:
    old = issue(site)
    site.deploy(old)
    site.serve()
    new = issue(site)
    site.deploy(new)
    store = _observe.store_state(site.cert)[0]
    # stopped after writing the intent, before the switch
    _observe.write_json(store, _observe.PENDING, {"attempted_fingerprint": fp(new), "reason": "proof failed",
                                                  "done": False})
    out = site.converge({"web": bundle_of(new)})
    assert out["outcome"] == "rolled_back" and out["fingerprint"] == fp(old) and out["previous_served"] is True
    # stopped after the switch, before the reload: the next run reloads and proves, and switches nothing more
    site.deploy(new)
    _observe.write_json(store, _observe.PENDING, {"attempted_fingerprint": fp(new), "reason": "proof failed",
                                                  "done": False})
    _deploy.rollback(_deploy.DeployRequest(targets=_observe.targets(site.cert), from_fingerprint=fp(new)))
    generations = store.generations()
    out = site.converge({"web": bundle_of(new)})
    assert out["outcome"] == "rolled_back" and out["fingerprint"] == fp(old) and out["proved"] is True
    assert store.generations() == generations


def test_target_previous_rolls_back_once(site: Site) -> None:
    old, new = issue(site), issue(site)
    site.deploy(old)
    site.deploy(new)
    site.serve()
    out = site.converge(target="previous")
    assert out["outcome"] == "rolled_back" and out["fingerprint"] == fp(old) and out["previous_served"] is True
    assert out["attempted_fingerprint"] == fp(new) and site.reloads == 1
    again = site.converge(target="previous")
    assert again["outcome"] == "unchanged" and again["fingerprint"] == fp(old) and site.reloads == 1
    assert "already rolled back" in again["reason"]


def three_generations(site: Site) -> list[Issued]:
    issued = [issue(site) for _unused in range(3)]
    for one in issued:
        site.deploy(one)
    site.serve()
    return issued


def test_second_rollback_with_older_and_back_with_newer(site: Site) -> None:
    gens = three_generations(site)
    back = site.converge(target="previous")
    assert back["outcome"] == "rolled_back" and back["fingerprint"] == fp(gens[1]) and back["proved"] is True
    assert (back["from_generation"], back["generation"], back["attempted_fingerprint"]) == (3, 2, fp(gens[2]))
    assert back["from_not_after"] and back["reason"] == (
        "rolled back from generation 3 (%s...) to generation 2 (%s...), previous certificate served again"
        % (fp(gens[2])[:23], fp(gens[1])[:23]))
    again = site.converge(target="previous")          # a rerun of the same rollback: not repeated
    assert again["outcome"] == "unchanged" and again["fingerprint"] == fp(gens[1]) and again["proved"] is True
    assert again["reason"].startswith("already rolled back from generation 3 (%s...) to generation 2" % fp(gens[2])[:23])
    assert again["from_generation"] == 3 and site.reloads == 1
    older = site.converge(target="older")              # a deliberate second rollback
    assert older["outcome"] == "rolled_back" and older["fingerprint"] == fp(gens[0]) and older["proved"] is True
    assert site.srv is not None and site.served() == fp(gens[0])
    refused = site.converge(target="older")            # nothing older kept: refused, nothing changed
    assert refused["outcome"] == "failed" and refused["reason"] == (
        "nothing to roll back to: generation 1 is the oldest of the 3 generation(s) kept (keep: 3); nothing was "
        "changed; roll forward with rollback_to=newer")
    assert "nothing was changed" in refused["reason"] and site.served() == fp(gens[0]) and site.reloads == 2
    assert site.converge(target="previous")["outcome"] == "unchanged"  # the failure left the record alone
    check = site.converge(target="newer", check_mode=True)
    assert check["outcome"] == "rolled_forward" and check["reason"] == "would roll forward from generation 1 to generation 2"
    for want in gens[1:]:
        forward = site.converge(target="newer")
        assert forward["outcome"] == "rolled_forward" and forward["fingerprint"] == fp(want) and forward["proved"] is True
        assert forward["reason"].endswith("newer certificate served again") and site.served() == fp(want)
    newest = site.converge(target="newer")              # the newest kept is current: nothing more
    assert newest["outcome"] == "unchanged" and newest["proved"] is True and site.reloads == 4
    assert newest["reason"].startswith("already rolled forward from generation 2 (%s...) to generation 3" % fp(gens[1])[:23])
    assert site.converge(target="previous")["fingerprint"] == fp(gens[1])  # after a roll forward, previous rolls back
    site.deploy(issue(site))                             # a new install discards what the rollback left
    assert _observe.store_state(site.cert)[0].generations() == [1, 2, 4]


def test_roll_forward_with_nothing_newer_is_unchanged(site: Site) -> None:
    three_generations(site)
    out = site.converge(target="newer")
    assert out["outcome"] == "unchanged" and out["reason"] == "nothing to roll forward to: generation 3 is the newest kept"
    assert out["proved"] is True and site.reloads == 0


def test_stopped_during_a_roll_forward_is_finished(site: Site) -> None:
    gens = three_generations(site)
    site.converge(target="previous")
    store = _observe.store_state(site.cert)[0]
    record = {"attempted_fingerprint": fp(gens[1]), "reason": "roll forward requested", "done": False,
              "direction": "forward", "requested": True, "from_generation": 2}
    _observe.write_json(store, _observe.PENDING, record)   # stopped after writing the intent
    out = site.converge(target="previous")                # whatever is asked, the interrupted step is finished first
    assert out["outcome"] == "rolled_forward" and out["fingerprint"] == fp(gens[2]) and out["proved"] is True
    assert out["reason"].startswith("rolled forward from generation 2")


def test_requested_rollback_without_a_store_fails(site: Site) -> None:
    pathlib.Path(site.cert["cert_path"]).parent.mkdir(parents=True)
    issued = issue(site)
    for key, data in (("cert_path", issued.cert_pem), ("key_path", issued.key_pem)):
        pathlib.Path(site.cert[key]).write_bytes(data)
    for target in ("previous", "older", "newer"):
        out = site.converge(target=target)
        assert out["outcome"] == "failed" and "has no generation store; deploy a certificate first" in out["reason"]


def test_no_probe_is_installed_not_proved(site: Site) -> None:
    site.deploy(issue(site))
    new = issue(site)
    out = site.converge({"web": bundle_of(new)})
    assert out["outcome"] == "renewed" and out["proved"] is None and out["fingerprint"] == fp(new)
    assert site.marker() is None and site.reloads == 0


def test_check_mode_changes_nothing(site: Site) -> None:
    site.deploy(issue(site))
    site.serve()
    new = issue(site)
    before = sorted(os.listdir(_observe.store_state(site.cert)[0].root))
    out = site.converge({"web": bundle_of(new)}, check_mode=True)
    assert out["outcome"] == "renewed" and "would install" in out["reason"]
    assert sorted(os.listdir(_observe.store_state(site.cert)[0].root)) == before and site.reloads == 0


def test_an_older_bundle_is_not_installed(site: Site) -> None:
    current = issue(site, days=90)
    site.deploy(current)
    older = issue(site, days=30, age=10)
    out = site.converge({"web": bundle_of(older)})
    assert out["outcome"] == "unchanged" and out["fingerprint"] == fp(current)


def test_a_later_certificate_of_a_shorter_profile_is_installed(site: Site) -> None:
    """A 90-day certificate with 30 days left, renewed with a 6-day profile: the new one expires first, but was
    issued after it, so it replaces it (else every run would order again)."""
    current = issue(site, days=90, age=60)
    site.deploy(current)
    short = site.ca.issue(["web.test"], days=6, not_before=dt.datetime.now(dt.timezone.utc))
    out = site.converge({"web": bundle_of(short)})
    assert out["outcome"] == "renewed" and out["fingerprint"] == fp(short)


def test_bad_target_is_refused(site: Site) -> None:
    with pytest.raises(Exception, match=r"target must be one of newest, previous, older, newer \(got 'oldest'\)"):
        site.converge(target="oldest")
    assert json.dumps(_converge.PROVE_DEFAULTS)
