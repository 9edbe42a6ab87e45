# SPDX-License-Identifier: GPL-3.0-or-later
"""`make demo` keeps working: the audit table, then renew.yml over a local fleet and audit.yml over it."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

from ansible_run import ROOT, ansible_env


def test_demo_end_to_end(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "demo"
    env = ansible_env(VENV=os.path.dirname(os.path.dirname(sys.executable)), DEMO_OUT=str(out))
    proc = subprocess.run(["bash", os.path.join(ROOT, "demo", "run.sh")], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    text = proc.stdout
    # part 1: the audit table, soonest expiry first
    table = text[text.index("STATUS    LEFT"):]
    assert table.index("expired") < table.index("critical") < table.index("due")
    assert "8 certificates on 4 hosts" in text
    # part 2: renew.yml over 7 local hosts in 2 groups: plan, canary then batches, every renewal proved
    assert "1 order, shared key" in text and "batch 1 (canary): edge-1" in text
    report = json.loads((out / "renew-report" / "report.json").read_text())
    assert report["ok"] and report["orders_placed"] == 4
    assert report["counts"]["renewed"] == 6 and report["counts"]["unchanged"] == 1
    assert all(r["proved"] for r in report["rows"] if r["outcome"] == "renewed")
    assert "gRPC call to edge-1 over its new certificate: pong" in text
    # the self-reloading Go service: renewed with no signal (reload: watch), proved by handshake; from
    # the report and the service's own log: it reloaded the installed certificate on a file event
    [watcher] = [r for r in report["rows"] if r["host"] == "edge-4"]
    assert watcher["outcome"] == "renewed" and watcher["reload"] == "watch" and watcher["proved"] is True, watcher
    assert {r["reload"] for r in report["rows"] if r["outcome"] == "renewed" and r["host"] != "edge-4"} <= \
        {"signal", "command"}
    log = out / "fleet" / "hosts" / "edge-4" / "service" / "reloader-dir.log"
    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert [e["event"] for e in events].count("loaded") == 1          # one process from start to end
    reloads = [e for e in events if e["event"] == "reloaded"]
    assert [e["fingerprint"] for e in reloads] == [watcher["fingerprint"].lower()], events
    assert reloads[0]["cause"] != "start"
    # the converge task sent nothing to edge-4 (it watches its files) and signalled the SIGHUP services
    assert watcher["reloaded"] is False
    assert all(r["reloaded"] is True for r in report["rows"] if r["outcome"] == "renewed" and r["reload"] == "signal")
    assert ("edge-4: renewed, no signal sent (reload: watch), proved by handshake (served fingerprint = installed one)"
            in text)
    # then the audit over the same fleet: everything fine
    audit = text[text.index("7 certificates on 7 hosts:"):].splitlines()[0]
    for status in ("expired 0", "invalid 0", "not_yet_valid 0", "critical 0", "due 0", "ok 7"):
        assert status in audit, audit
    # nothing the demo started is left running
    assert (out / "lab").is_dir() and not (out / "lab" / "info.json").exists()
