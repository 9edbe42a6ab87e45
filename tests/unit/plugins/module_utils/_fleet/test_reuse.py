# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_fleet/reuse: when a stored certificate stands in for an order; and what loading the filter plugins costs."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import subprocess
import sys

from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import reuse as _reuse

ROOT = pathlib.Path(__file__).resolve().parents[5]


def test_reusable_says_when_a_stored_certificate_may_stand_in_for_an_order(tmp_path: pathlib.Path) -> None:
    from certgen import TestCA, now

    from ansible_collections.ghostguard.certs.plugins.module_utils import _x509

    ca = TestCA("reuse CA")
    fresh = ca.issue(["r.example.test"], days=90)
    path = fresh.write(str(tmp_path), "cert", bundle=False, key=False)
    seen = _x509.fingerprint(fresh.cert)
    assert _reuse.reusable(path, ["R.example.test."]) is not None           # fresh, not what the plan saw
    assert _reuse.reusable(path, ["r.example.test"], seen=[seen.upper()]) is None   # the plan judged this one
    assert _reuse.reusable(path, ["r.example.test", "s.example.test"]) is None   # other names
    assert _reuse.reusable(path, ["r.example.test"], force=True) is None        # forced: only if ordered meanwhile
    installed = os.stat(path).st_mtime
    assert _reuse.reusable(path, ["r.example.test"], force=True, since=installed - 5, seen=[seen]) is not None
    assert _reuse.reusable(path, ["r.example.test"], force=True, since=installed + 5) is None
    due = ca.issue(["r.example.test"], days=30, not_before=now() - dt.timedelta(days=25))
    due.write(str(tmp_path), "cert", bundle=False, key=False)
    assert _reuse.reusable(path, ["r.example.test"]) is None                      # due under the policy
    assert _reuse.reusable(path, ["r.example.test"], {"renew_fraction": 0.01}) is not None
    assert _reuse.reusable(str(tmp_path / "none.pem"), ["r.example.test"], since=0) is None


def test_loading_the_filter_plugins_brings_no_acme_or_dns_client() -> None:
    """Ansible imports every filter file of the collection whenever a task uses one of its filters, in every
    forked worker (renew.yml's observe task: once per host). None of them may import the ACME client, dnspython,
    requests or the aliyun SDK (about 0.2 s per worker, half of a no-op run's observe task over 20 hosts), nor
    cryptography's X.509 (20 ms per worker) until a filter that reads a certificate runs."""
    heavy = ["acme", "josepy", "dns", "requests", "aliyunsdkcore", "aliyunsdkalidns", "cryptography.x509"]
    code = (
        "import json, sys, importlib, pathlib\n"
        "names = sorted(p.stem for p in pathlib.Path(sys.argv[1]).glob('*.py'))\n"
        "for name in names:\n"
        "    importlib.import_module('ansible_collections.ghostguard.certs.plugins.filter.' + name)\n"
        "print(json.dumps({'files': names, 'loaded': sorted(m for m in sys.argv[2:] if m in sys.modules)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT / "plugins" / "filter"), *heavy], capture_output=True,
                          text=True, check=True,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / ".build" / "collections"),
                                                                           os.environ.get("PYTHONPATH", "")])))
    out = json.loads(proc.stdout)
    assert len(out["files"]) >= 3 and "plan" in out["files"], out
    assert out["loaded"] == [], out
