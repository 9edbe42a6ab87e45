# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash safety of deploy: kill it between every filesystem step, and at 200+ random instants.

After every kill the pair at the service paths must load with ssl.SSLContext.load_cert_chain and be
entirely the old or entirely the new certificate; the next run must clean up and finish.
"""

from __future__ import annotations

import os
import pathlib
import random
import re
import signal
import time
import typing as t

import pytest
from certgen import Issued
from deploy_lab import DeployLab, fp

from ansible_collections.ghostguard.certs.plugins.module_utils import _files

RANDOM_TRIALS = 240


def request(lab: DeployLab, issued: Issued | None, keep: int = 2) -> _files.DeployRequest:
    targets = _files.Targets(cert=lab.cert_path, key=lab.key_path, chain=lab.chain_path, fullchain=lab.fullchain_path)
    bundle = _files.build_bundle(issued.cert_pem, issued.key_pem, issued.chain_pem) if issued else None
    return _files.DeployRequest(targets=targets, bundle=bundle, keep=keep)


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

        _files.set_step_hook(hook)
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
                       (lab.chain_path, issued.chain_pem), (lab.fullchain_path, issued.fullchain_pem)):
        with open(path, "wb") as handle:
            handle.write(data)


@pytest.mark.parametrize("scenario", ["adopt_plain_files", "next_generation_with_prune", "rollback"])
def test_fault_injected_between_every_step(tmp_path: pathlib.Path, scenario: str) -> None:
    probe_lab = DeployLab(str(tmp_path / "count"))
    old, new = probe_lab.issue(), probe_lab.issue()

    def prepare(lab: DeployLab) -> None:
        if scenario == "adopt_plain_files":
            plain_files(lab, old)
        elif scenario == "next_generation_with_prune":
            for _unused in range(2):
                _files.deploy(request(lab, probe_lab.issue()))
            _files.deploy(request(lab, old))
        else:
            _files.deploy(request(lab, old))
            _files.deploy(request(lab, new))

    def act(lab: DeployLab) -> object:
        if scenario == "rollback":
            return _files.rollback(request(lab, None))
        return _files.deploy(request(lab, new))

    before, after = (fp(new.cert), fp(old.cert)) if scenario == "rollback" else (fp(old.cert), fp(new.cert))
    # count the steps of an uninterrupted run
    steps: list[str] = []
    prepare(probe_lab)
    _files.set_step_hook(steps.append)
    try:
        act(probe_lab)
    finally:
        _files.set_step_hook(None)
    assert len(steps) >= (4 if scenario == "rollback" else 12), steps
    seen = set()
    for crash_at in range(1, len(steps) + 1):
        lab = DeployLab(str(tmp_path / ("k%d" % crash_at)), ca=probe_lab.ca)
        prepare(lab)
        code = run_child(lambda lab=lab: act(lab), crash_at)  # type: ignore[misc]
        assert code == 77, "step %d (%s) did not crash" % (crash_at, steps[crash_at - 1])
        served = lab.installed().fingerprint
        assert served in (before, after), "step %d: served %s" % (crash_at, served)
        seen.add(served)
        # the next run recovers and completes
        if scenario == "rollback":
            if served == before:
                _files.rollback(request(lab, None))
        else:
            _files.deploy(request(lab, new))
        assert lab.installed().fingerprint == after
        no_leftovers(lab)
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
            _files.set_step_hook(lambda name, fd=write_fd: os.write(fd, (name + "\n").encode()) and None)
            index = trial
            while True:
                _files.deploy(request(lab, bundles[index % 3], keep=3))
                index += 1
        os.close(write_fd)
        time.sleep(rng.uniform(0.001, 0.025))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        with os.fdopen(read_fd, "rb") as pipe:
            written = pipe.read().decode(errors="replace").splitlines()
        last = re.sub(r"\d+", "N", written[-1]) if written else "(before the first step)"
        last_steps[last] = last_steps.get(last, 0) + 1
        pair = lab.installed()  # raises when the pair is mixed or does not load
        assert pair.fingerprint in fingerprints
        served_counts[pair.fingerprint] = served_counts.get(pair.fingerprint, 0) + 1
    _files.deploy(request(lab, bundles[0], keep=3))
    no_leftovers(lab)
    print("\nrandom kills: %d trials, last step before the kill: %s" % (RANDOM_TRIALS, last_steps))
    assert len(last_steps) >= 8  # kills landed at many different points
    assert len(served_counts) == 3
