# SPDX-License-Identifier: GPL-3.0-or-later
"""endpoint_info through real Ansible: many endpoints at once against a private nginx, error classes."""

from __future__ import annotations

import pathlib
import threading
import time
import typing as t

import pytest
import yaml
from ansible_run import run_module, run_playbook
from certgen import TestCA
from deploy_lab import DeployLab, fp
from go_reloader import GoReloader
from services import Nginx, Site, TLSServer, free_port


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[tuple[Nginx, TestCA, str, list[str]]]:
    root = tmp_path_factory.mktemp("endpoint-fleet")
    ca = TestCA("endpoint fleet root")
    (root / "root.pem").write_bytes(ca.root_pem)
    sites, fps = [], []
    for index in range(6):
        issued = ca.issue(["svc%d.test" % index])
        cert = issued.write(str(root), "svc%d" % index)
        sites.append(Site(cert, str(root / ("svc%d.key" % index)), "svc%d.test" % index, http2=index % 2 == 0))
        fps.append(fp(issued.cert))
    with Nginx(str(root / "nginx"), sites) as ngx:
        yield ngx, ca, str(root / "root.pem"), fps


def test_many_endpoints_in_one_task(fleet: tuple[Nginx, TestCA, str, list[str]]) -> None:
    ngx, _ca, root, fps = fleet
    endpoints: list[dict[str, t.Any]] = [
        {"host": "127.0.0.1", "port": s.port, "server_name": s.server_name, "expected_fingerprint": fps[i],
         "name": "site%d" % i}
        for i, s in enumerate(ngx.sites)
    ]
    endpoints.append({"host": "127.0.0.1", "port": free_port(), "name": "down"})
    endpoints.append({"host": "127.0.0.1", "port": ngx.sites[0].port, "server_name": "wrong.test", "name": "wrong"})
    run = run_module("ghostguard.certs.endpoint_info", {"endpoints": endpoints, "ca_bundle": root,
                                                        "alpn": ["h2", "http/1.1"], "timeout": 3})
    assert run.rc == 0, run.stdout
    res = run.result
    assert res["changed"] is False
    by_name = {e["name"]: e for e in res["endpoints"]}
    assert [e["name"] for e in res["endpoints"]] == [*("site%d" % i for i in range(6)), "down", "wrong"]
    for i in range(6):
        entry = by_name["site%d" % i]
        assert entry["ok"] and entry["matches_expected"] is True and entry["verified"] is True
        assert entry["alpn_protocol"] == ("h2" if i % 2 == 0 else "http/1.1")
        assert entry["certificate"]["sans"] == ["DNS:svc%d.test" % i]
        assert entry["certificate"]["status"] == "ok"
    assert by_name["down"]["error"] == "refused"
    assert by_name["wrong"]["error"] == "hostname_mismatch" and by_name["wrong"]["verified"] is False
    assert res["summary"] == {"total": 8, "ok": 6, "mismatched": 0, "errors": {"refused": 1, "hostname_mismatch": 1}}


def test_mismatch_fails_the_task_unless_told_not_to(fleet: tuple[Nginx, TestCA, str, list[str]]) -> None:
    ngx, _ca, root, fps = fleet
    args = {"host": "127.0.0.1", "port": ngx.sites[1].port, "server_name": ngx.sites[1].server_name,
            "ca_bundle": root, "expected_fingerprint": fps[0]}
    failed = run_module("ghostguard.certs.endpoint_info", args)
    assert failed.rc != 0 and failed.result["failed"] is True
    assert failed.result["matches_expected"] is False
    assert failed.result["certificate"]["fingerprint_sha256"] == fps[1]
    assert "still serves another certificate" in failed.result["msg"]
    reported = run_module("ghostguard.certs.endpoint_info", {**args, "fail_on_mismatch": False}, check=True)
    assert reported.rc == 0 and reported.result["matches_expected"] is False


def test_error_class_fails_with_fail_on_error(fleet: tuple[Nginx, TestCA, str, list[str]],
                                              tmp_path: pathlib.Path) -> None:
    ngx, _ca, _root, _fps = fleet
    other = tmp_path / "other.pem"
    other.write_bytes(TestCA("stranger").root_pem)
    run = run_module("ghostguard.certs.endpoint_info", {
        "host": "127.0.0.1", "port": ngx.sites[2].port, "server_name": ngx.sites[2].server_name,
        "ca_bundle": str(other), "fail_on_error": True})
    assert run.rc != 0 and run.result["error"] == "unknown_ca"
    assert run.result["certificate"]["subject"] == "CN=svc2.test"


def test_bad_options_are_refused(fleet: tuple[Nginx, TestCA, str, list[str]]) -> None:
    run = run_module("ghostguard.certs.endpoint_info", {"host": "127.0.0.1", "expected_fingerprint": "not-hex"})
    assert run.rc != 0 and "not a SHA-256 fingerprint" in run.result["msg"]


def test_embedded_scts_verified_with_a_log_list(tmp_path: pathlib.Path) -> None:
    from certgen import Issued
    from cryptography.hazmat.primitives.asymmetric import ec
    from ct_lab import cert_with_sct, log_list
    from services import TLSServer

    ca = TestCA("ct module root")
    (tmp_path / "root.pem").write_bytes(ca.root_pem)
    log_key = ec.generate_private_key(ec.SECP256R1())
    cert, key = cert_with_sct(ca, log_key, with_key=True, name="ct.test")
    cert_file = Issued(cert, key, list(ca.chain)).write(str(tmp_path), "ct")
    logs = log_list(tmp_path / "log_list.json", log_key)
    with TLSServer(cert_file, str(tmp_path / "ct.key")) as srv:
        run = run_module("ghostguard.certs.endpoint_info", {
            "host": "127.0.0.1", "port": srv.port, "server_name": "ct.test", "ca_bundle": str(tmp_path / "root.pem"),
            "ct_log_list": logs})
    assert run.rc == 0, run.stdout
    scts = run.result["scts"]
    assert len(scts) == 1
    assert scts[0]["signature_valid"] is True and scts[0]["log_description"] == "ghostguard test log"
    assert scts[0]["entry_type"] == "pre_certificate"


def _example_tasks(first_task: str, count: int) -> list[dict[str, t.Any]]:
    """Tasks of endpoint_info's EXAMPLES, from the one named *first_task* on."""
    from ansible_collections.ghostguard.certs.plugins.modules import endpoint_info

    tasks = yaml.safe_load(endpoint_info.EXAMPLES)
    start = next(i for i, task in enumerate(tasks) if task["name"] == first_task)
    return t.cast("list[dict[str, t.Any]]", tasks[start:start + count])


def _point_at_lab(node: t.Any, port: int, tls: pathlib.Path) -> t.Any:
    """The example's paths and port, moved to the lab (everything else as documented)."""
    if isinstance(node, list):
        return [_point_at_lab(n, port, tls) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _point_at_lab(v, port, tls) for k, v in node.items()}
    if "ghostguard.certs.endpoint_info" in out:
        out["ghostguard.certs.endpoint_info"]["port"] = port
    if "ghostguard.certs.deploy" in out:
        args = out["ghostguard.certs.deploy"]
        args["fullchain_path"] = str(tls / "shop.pem")
        args["key_path"] = str(tls / "shop.key")
    return out


@pytest.mark.parametrize(("first_task", "count", "fails"), [
    ("Prove the new certificate is served, roll back a ghost", 1, True),
    ("Or decide without failing - report only, then act on the result", 2, False),
])
def test_ghost_rollback_examples_run(first_task: str, count: int, fails: bool, tmp_path: pathlib.Path) -> None:
    """The documented ghost patterns really roll back (the old example's task could never run)."""
    from ansible_collections.ghostguard.certs.plugins.module_utils._install import bundle as _bundle
    from ansible_collections.ghostguard.certs.plugins.module_utils._install import deploy as _deploy

    ca = TestCA("ghost example root")
    (tmp_path / "root.pem").write_bytes(ca.root_pem)
    tls = tmp_path / "tls"
    old, new = ca.issue(["shop.example.com"]), ca.issue(["shop.example.com"])
    targets = _deploy.Targets(fullchain=str(tls / "shop.pem"), key=str(tls / "shop.key"))
    for issued in (old, new):
        _deploy.deploy(_deploy.DeployRequest(targets=targets, bundle=_bundle.build_bundle(
            issued.fullchain_pem, issued.key_pem, None)))
    ghost = old.write(str(tmp_path / "served"), "ghost")  # the service never reloaded: it serves the old one
    with TLSServer(ghost, str(tmp_path / "served" / "ghost.key")) as srv:
        play = [{"name": "ghost example", "hosts": "localhost", "gather_facts": False,
                 "module_defaults": {"ghostguard.certs.endpoint_info": {
                     "ca_bundle": str(tmp_path / "root.pem"), "timeout": 3}},
                 "vars": {"installed": {"certificate": {"fingerprint_sha256": fp(new.cert)}}},
                 "tasks": _point_at_lab(_example_tasks(first_task, count), srv.port, tls)}]
        (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
        proc = run_playbook(str(tmp_path / "play.yml"))
    out = proc.stdout + proc.stderr
    assert (proc.returncode != 0) is fails, out
    assert "Traceback" not in out
    # the rollback ran: the service paths hold the old certificate again
    served = tls.joinpath("shop.pem").read_bytes()
    assert served.startswith(old.cert_pem), out
    if fails:
        assert "Stop the batch after the rollback" in out and "serves %s, expected %s" % (fp(old.cert), fp(new.cert)) in out


# ---------------------------------------------------------------- backoff for services that reload themselves


def _watch_lab(root: pathlib.Path) -> tuple[DeployLab, t.Callable[[t.Any], dict[str, t.Any]]]:
    lab = DeployLab(str(root))
    lab.cert_path, lab.key_path = str(root / "tls" / "tls.crt"), str(root / "tls" / "tls.key")

    def args(issued: t.Any) -> dict[str, t.Any]:
        out = lab.module_args(issued)
        for role in ("cert_path", "chain_path", "combined_path"):
            out.pop(role)
        out["fullchain_path"] = lab.cert_path  # tls.crt holds the chain: the probe verifies it
        return out

    return lab, args


def _expected_waits(delay: float, backoff: float, cap: float, count: int) -> list[float]:
    return [min(delay * backoff ** n, cap) for n in range(count)]


def test_backoff_waits_for_a_go_service_that_picks_it_up_later(tmp_path: pathlib.Path) -> None:
    """The directory-watching Go service gets the new certificate while the probe is already waiting:
    the growing waits end with the proof, with no signal sent."""
    lab, args = _watch_lab(tmp_path)
    first, second = lab.issue(), lab.issue()
    assert run_module("ghostguard.certs.deploy", args(first)).rc == 0
    with GoReloader(str(tmp_path / "svc"), lab.cert_path, lab.key_path, watch="dir") as svc:
        deployed: list[t.Any] = []

        def deploy_later() -> None:
            time.sleep(3)
            deployed.append(run_module("ghostguard.certs.deploy", args(second)))

        later = threading.Thread(target=deploy_later)
        later.start()
        try:
            run = run_module("ghostguard.certs.endpoint_info", {
                "host": "127.0.0.1", "port": svc.port, "server_name": lab.name, "ca_bundle": lab.root_file,
                "alpn": ["h2"], "expected_fingerprint": fp(second.cert), "timeout": 5,
                "retries": 10, "retry_delay": 0.25, "retry_backoff": 2, "retry_max_delay": 2})
        finally:
            later.join()
        assert deployed[0].rc == 0, deployed[0].stdout
        svc.wait_for("reloaded", fingerprint=fp(second.cert))
    res = run.result
    assert run.rc == 0 and res["matches_expected"] is True and res["ok"] and res["verified"], run.stdout
    attempts = res["attempts"]
    assert 2 <= attempts <= 11, res
    # the waits were 0.25, 0.5, 1, 2, 2...: their sum is what the module reports
    assert res["waited"] == pytest.approx(sum(_expected_waits(0.25, 2, 2, attempts - 1))), res
    assert res["endpoints"][0]["waited"] == res["waited"]


def test_backoff_is_bounded_and_a_ghost_fails_with_attempts_and_waited(tmp_path: pathlib.Path) -> None:
    """The file-watching Go service never sees an atomic deploy: after the bounded attempts the task fails."""
    lab, args = _watch_lab(tmp_path)
    first, second = lab.issue(), lab.issue()
    assert run_module("ghostguard.certs.deploy", args(first)).rc == 0
    with GoReloader(str(tmp_path / "svc"), lab.cert_path, lab.key_path, watch="file") as svc:
        svc.wait_for("loaded", fingerprint=fp(first.cert))
        assert run_module("ghostguard.certs.deploy", args(second)).rc == 0
        started = time.monotonic()
        run = run_module("ghostguard.certs.endpoint_info", {
            "endpoints": [{"host": "127.0.0.1", "port": svc.port, "name": "go-file-watcher",
                           "retry_backoff": 3, "retry_max_delay": 0.9}],
            "server_name": lab.name, "ca_bundle": lab.root_file, "alpn": ["h2"],
            "expected_fingerprint": fp(second.cert), "timeout": 5, "retries": 5, "retry_delay": 0.1})
        elapsed = time.monotonic() - started
        assert [e["event"] for e in svc.events()].count("reloaded") == 0, svc.events()
    assert run.rc != 0, run.stdout
    res = run.result
    (entry,) = res["endpoints"]
    assert entry["attempts"] == 6 and entry["matches_expected"] is False and entry["verified"] is True
    assert entry["waited"] == pytest.approx(0.1 + 0.3 + 0.9 + 0.9 + 0.9)  # 3x each time, capped at 0.9
    assert entry["certificate"]["fingerprint_sha256"] == fp(first.cert)
    assert "1 of 1 endpoint(s) failed" in res["msg"] and "go-file-watcher serves %s, expected %s" % (
        fp(first.cert), fp(second.cert)) in res["msg"]
    assert elapsed >= 3.1  # really waited


def test_backoff_options_refused_by_name(tmp_path: pathlib.Path) -> None:
    for options, message in (
        ({"host": "127.0.0.1", "retry_backoff": 0.5}, "retry_backoff: 0.5 is outside the accepted range; give a number "
                                                      "from 1 to 10"),
        ({"endpoints": [{"host": "127.0.0.1", "retry_max_delay": 7200}]},
         "endpoints[0].retry_max_delay: 7200.0 is outside the accepted range; give a duration from 0.01s to 1h"),
    ):
        run = run_module("ghostguard.certs.endpoint_info", options)
        assert run.rc != 0 and message in run.result["msg"], run.stdout
