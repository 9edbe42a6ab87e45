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
    # part 2: renew.yml over 6 local hosts in 2 groups: plan, canary then batches, every renewal proved
    assert "1 order, shared key" in text and "batch 1 (canary): edge-1" in text
    report = json.loads((out / "renew-report" / "report.json").read_text())
    assert report["ok"] and report["orders_placed"] == 3
    assert report["counts"]["renewed"] == 5 and report["counts"]["unchanged"] == 1
    assert all(r["proved"] for r in report["rows"] if r["outcome"] == "renewed")
    assert "gRPC call to edge-1 over its new certificate: pong" in text
    # then the audit over the same fleet: everything fine
    audit = text[text.index("6 certificates on 6 hosts:"):].splitlines()[0]
    for status in ("expired 0", "invalid 0", "not_yet_valid 0", "critical 0", "due 0", "ok 6"):
        assert status in audit, audit
    # nothing the demo started is left running
    assert (out / "lab").is_dir() and not (out / "lab" / "info.json").exists()
