# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash safety of deploy: kill it between every filesystem step, and at 200+ random instants.

After every kill the pair at the service paths must load with ssl.SSLContext.load_cert_chain and be
entirely the old or entirely the new certificate; the next run must clean up and finish.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import random
import re
import shutil
import signal
import time
import typing as t

import pytest
from certgen import Issued
from deploy_lab import DeployLab, fp

from ansible_collections.ghostguard.certs.plugins.module_utils import _durable
from ansible_collections.ghostguard.certs.plugins.module_utils._install import bundle as _bundle
from ansible_collections.ghostguard.certs.plugins.module_utils._install import deploy as _deploy
from ansible_collections.ghostguard.certs.plugins.module_utils._install import store as _store

RANDOM_TRIALS = 240


def request(lab: DeployLab, issued: Issued | None, keep: int = 2) -> _deploy.DeployRequest:
    targets = _deploy.Targets(cert=lab.cert_path, key=lab.key_path, chain=lab.chain_path, fullchain=lab.fullchain_path,
                              combined=lab.combined_path)
    bundle = _bundle.build_bundle(issued.cert_pem, issued.key_pem, issued.chain_pem) if issued else None
    return _deploy.DeployRequest(targets=targets, bundle=bundle, keep=keep)


def run_child(action: t.Callable[[], object], crash_at: int | None, steps_fd: int | None = None) -> int:
    """Fork; the child runs *action* and dies (os._exit, no clean-up) at step number *crash_at*."""
    pid = os.fork()
    if pid == 0:  # child
        count = 0

        def hook(name: str) -> None:
            nonlocal count
            count += 1
            if steps_fd is not None:
                os.write(steps_fd, (name + "\n").encode())
            if crash_at is not None and count == crash_at:
                os._exit(77)

        _durable.set_step_hook(hook)
        try:
            action()
        except BaseException:
            os._exit(1)
        os._exit(0)
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def no_leftovers(lab: DeployLab) -> None:
    store = pathlib.Path(lab.tls) / ".ghostguard" / "svc"
    names = os.listdir(store)
    assert not [n for n in names if n.endswith((".partial", ".ghostguard-tmp"))], names
    assert not [n for n in os.listdir(lab.tls) if n.endswith(".ghostguard-tmp")]


def plain_files(lab: DeployLab, issued: Issued) -> None:
    os.makedirs(lab.tls, exist_ok=True)
    for path, data in ((lab.cert_path, issued.cert_pem), (lab.key_path, issued.key_pem),
                       (lab.chain_path, issued.chain_pem), (lab.fullchain_path, issued.fullchain_pem),
                       (lab.combined_path, issued.fullchain_pem + issued.key_pem)):
        with open(path, "wb") as handle:
            handle.write(data)


def legacy_store(lab: DeployLab, issued: Issued) -> None:
    """A store as older releases left it: ``current -> gen-1`` inside the store, service paths through it."""
    store = _store.Store(os.path.join(lab.tls, ".ghostguard", "svc"))
    store.ensure_root()
    store.switch(store.write_generation(_bundle.build_bundle(issued.cert_pem, issued.key_pem, issued.chain_pem).files(),
                                        _store.Attrs()))
    store.link_service_paths(request(lab, None).targets.paths())
    assert os.readlink(lab.key_path) == ".ghostguard/svc/current/key.pem"


def rollback_legacy_store(lab: DeployLab, old: Issued, new: Issued) -> None:
    """A legacy store serving *new*, with an older generation ``gen-0`` holding *old* to roll back to."""
    legacy_store(lab, new)
    shutil.copytree(os.path.join(lab.tls, ".ghostguard", "svc", "gen-1"),
                    os.path.join(lab.tls, ".ghostguard", "svc", "gen-0"))
    for name in os.listdir(os.path.join(lab.tls, ".ghostguard", "svc", "gen-0")):
        role = name[:-4]
        data = {"cert": old.cert_pem, "key": old.key_pem, "chain": old.chain_pem,
                "fullchain": old.fullchain_pem, "combined": old.fullchain_pem + old.key_pem}[role]
        pathlib.Path(lab.tls, ".ghostguard", "svc", "gen-0", name).write_bytes(data)


def prepare_scenario(scenario: str, lab: DeployLab, probe_lab: DeployLab, old: Issued, new: Issued) -> None:
    """Set *lab* up as *scenario* starts: what is installed before the deploy or rollback under test."""
    if scenario == "adopt_plain_files":
        plain_files(lab, old)
    elif scenario == "migrate_legacy_store":
        legacy_store(lab, old)
    elif scenario == "rollback_legacy_store":
        rollback_legacy_store(lab, old, new)
    elif scenario == "next_generation_with_prune":
        for _unused in range(2):
            _deploy.deploy(request(lab, probe_lab.issue()))
        _deploy.deploy(request(lab, old))
    else:
        _deploy.deploy(request(lab, old))
        _deploy.deploy(request(lab, new))


def act_scenario(scenario: str, lab: DeployLab, new: Issued) -> object:
    """The run under test: a rollback, or the deploy of *new*."""
    if scenario.startswith("rollback"):
        return _deploy.rollback(request(lab, None))
    return _deploy.deploy(request(lab, new))


def count_steps(scenario: str, probe_lab: DeployLab, old: Issued, new: Issued) -> list[str]:
    """The filesystem steps of an uninterrupted run of *scenario* (in *probe_lab*)."""
    steps: list[str] = []
    prepare_scenario(scenario, probe_lab, probe_lab, old, new)
    _durable.set_step_hook(steps.append)
    try:
        act_scenario(scenario, probe_lab, new)
    finally:
        _durable.set_step_hook(None)
    return steps


def recover_and_check(scenario: str, lab: DeployLab, new: Issued, after: str) -> None:
    """The next run after a crash recovers and completes: *after* served, nothing left over, the new layout."""
    if scenario.startswith("rollback"):
        # the rollback task runs again, guarded by from_fingerprint as renew.yml runs it
        again = request(lab, None)
        again.from_fingerprint = fp(new.cert)
        _deploy.rollback(again)
    else:
        _deploy.deploy(request(lab, new))
    assert lab.installed().fingerprint == after
    no_leftovers(lab)
    # the new layout: the switching link beside the service paths decides what they show (a rollback
    # rerun that finds nothing to do leaves links of the older layout, which resolve through it, too)
    assert os.readlink(os.path.join(lab.tls, ".ghostguard", "svc", "current")) == "../../..svc.data"
    if not scenario.startswith("rollback"):
        assert os.readlink(lab.key_path) == "..svc.data/key.pem"


@pytest.mark.parametrize("scenario", ["adopt_plain_files", "next_generation_with_prune", "rollback",
                                      "migrate_legacy_store", "rollback_legacy_store"])
def test_fault_injected_between_every_step(tmp_path: pathlib.Path, scenario: str) -> None:
    probe_lab = DeployLab(str(tmp_path / "count"))
    old, new = probe_lab.issue(), probe_lab.issue()
    before, after = (fp(new.cert), fp(old.cert)) if scenario.startswith("rollback") else (fp(old.cert), fp(new.cert))
    # count the steps of an uninterrupted run
    steps = count_steps(scenario, probe_lab, old, new)
    assert len(steps) >= (4 if scenario.startswith("rollback") else 12), steps
    seen = set()
    for crash_at in range(1, len(steps) + 1):
        lab = DeployLab(str(tmp_path / ("k%d" % crash_at)), ca=probe_lab.ca)
        prepare_scenario(scenario, lab, probe_lab, old, new)
        code = run_child(lambda lab=lab: act_scenario(scenario, lab, new), crash_at)  # type: ignore[misc]
        assert code == 77, "step %d (%s) did not crash" % (crash_at, steps[crash_at - 1])
        served = lab.installed().fingerprint
        assert served in (before, after), "step %d: served %s" % (crash_at, served)
        seen.add(served)
        # the next run recovers and completes
        recover_and_check(scenario, lab, new, after)
    assert seen == {before, after}  # kills landed both before and after the commit point


def test_random_kills(tmp_path: pathlib.Path) -> None:
    lab = DeployLab(str(tmp_path / "random"))
    bundles = [lab.issue() for _unused in range(3)]
    fingerprints = {fp(b.cert) for b in bundles}
    plain_files(lab, bundles[0])
    rng = random.Random(20261125)
    last_steps: dict[str, int] = {}
    served_counts: dict[str, int] = {}
    for trial in range(RANDOM_TRIALS):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: deploy in a loop until killed
            os.close(read_fd)
            _durable.set_step_hook(lambda name, fd=write_fd: os.write(fd, (name + "\n").encode()) and None)
            index = trial
            while True:
                _deploy.deploy(request(lab, bundles[index % 3], keep=3))
                index += 1
        os.close(write_fd)
        time.sleep(rng.uniform(0.001, 0.1))  # a forked child needs 10-70 ms to its first step on a loaded host
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        with os.fdopen(read_fd, "rb") as pipe:
            written = pipe.read().decode(errors="replace").splitlines()
        last = re.sub(r"\d+", "N", written[-1]) if written else "(before the first step)"
        last_steps[last] = last_steps.get(last, 0) + 1
        pair = lab.installed()  # raises when the pair is mixed or does not load
        assert pair.fingerprint in fingerprints
        served_counts[pair.fingerprint] = served_counts.get(pair.fingerprint, 0) + 1
    _deploy.deploy(request(lab, bundles[0], keep=3))
    no_leftovers(lab)
    print("\nrandom kills: %d trials, last step before the kill: %s" % (RANDOM_TRIALS, last_steps))
    assert len(last_steps) >= 8  # kills landed at many different points
    assert len(served_counts) == 3


def read_once_pair(path: str) -> str:
    """Read a combined PEM with ONE open (as haproxy does) and check that its key belongs to its leaf."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    with open(path, "rb") as handle:
        data = handle.read()
    leaf = x509.load_pem_x509_certificates(data)[0]
    start = data.index(b"-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(data[start:], password=None)
    spki, der = serialization.PublicFormat.SubjectPublicKeyInfo, serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != leaf.public_key().public_bytes(der, spki):
        raise ValueError("mixed pair")
    return fp(leaf)


def test_single_read_of_combined_file_never_sees_a_mixed_pair(tmp_path: pathlib.Path) -> None:
    """Deploys switch generations back to back while a reader reads combined.pem: always one generation.

    (Readers that open two paths - or one path twice, as OpenSSL's load_cert_chain does - can straddle
    the switch; the count is printed for the record.)
    """
    import ssl

    lab = DeployLab(str(tmp_path / "readers"))
    bundles = [lab.issue() for _unused in range(3)]
    fingerprints = {fp(b.cert) for b in bundles}
    _deploy.deploy(request(lab, bundles[0], keep=3))
    pid = os.fork()
    if pid == 0:
        deadline = time.monotonic() + 30  # 60 switches; at least 3 s of them, at most 30 s on a loaded host
        index = 1
        started = time.monotonic()
        while time.monotonic() < deadline and (index <= 60 or time.monotonic() < started + 3):
            _deploy.deploy(request(lab, bundles[index % 3], keep=3))
            index += 1
        os._exit(0)
    single = mixed = two_open = two_open_failed = 0
    try:
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            try:
                assert read_once_pair(lab.combined_path) in fingerprints
                single += 1
            except ValueError:
                mixed += 1
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            try:
                ctx.load_cert_chain(lab.fullchain_path, lab.key_path)
                two_open += 1
            except ssl.SSLError:
                two_open_failed += 1
    finally:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    store = pathlib.Path(lab.tls) / ".ghostguard" / "svc"
    generations = max(int(n[4:]) for n in os.listdir(store) if n.startswith("gen-"))
    print("\nduring %d generation switches: combined.pem read once %d times, %d mixed; "
          "fullchain+key loaded with two opens %d times, %d straddled the switch"
          % (generations, single + mixed, mixed, two_open + two_open_failed, two_open_failed))
    assert generations > 50 and single > 200
    assert mixed == 0
