# SPDX-License-Identifier: GPL-3.0-or-later
"""`make demo` keeps working: the audit table, then renew + install + reload + proof on the lab."""

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
                          env=env, cwd=ROOT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    text = proc.stdout
    # part 1: the audit table, soonest expiry first
    table = text[text.index("STATUS    LEFT"):]
    assert table.index("expired") < table.index("critical") < table.index("due")
    assert "8 certificates on 4 hosts" in text
    # part 2: both services renewed over the two DNS providers and proved to serve the new certificate
    summary = json.loads((out / "renew-summary.json").read_text())
    assert sorted(d["item"]["item"]["provider"] for d in summary["deploys"]) == ["alidns", "rfc2136"]
    proofs = summary["proof"]["endpoints"]
    assert len(proofs) == 2 and all(p["matches_expected"] and p["verified"] for p in proofs)
    assert {p["alpn_protocol"] for p in proofs} == {"h2", None}
    assert "gRPC call over the new certificate: pong" in text
    # nothing the demo started is left running
    assert (out / "lab").is_dir() and not (out / "lab" / "info.json").exists()
