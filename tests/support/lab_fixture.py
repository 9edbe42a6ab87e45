# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab (BIND9, Pebble, Alidns stand-in, ACME proxy) as a session fixture, and helpers on it.

Shared by the unit and the integration tests (each suite's conftest.py imports the fixtures): when
both suites run in one session, the first ``lab`` starts the lab and the second reuses it.
"""

from __future__ import annotations

import json
import os
import pathlib
import time
import typing as t

import dns.message
import dns.query
import dns.rdatatype
import pytest
from lab import Lab, start_pebble, start_proxy, stop_pid_file


class LabHandle:
    """The running lab's info plus the knobs tests turn (control files) and the counters they read."""

    def __init__(self, info: dict[str, t.Any]) -> None:
        self.info = info
        self.state_dir = info["state_dir"]

    # ---------------------------------------------------------------- module arguments

    def args(self, tmp: pathlib.Path, names: list[str], provider: str = "rfc2136", via_proxy: bool = False,
             **extra: t.Any) -> dict[str, t.Any]:
        info = self.info
        args: dict[str, t.Any] = {
            "names": names,
            "cert_path": str(tmp / "cert.pem"),
            "key_path": str(tmp / "key.pem"),
            "chain_path": str(tmp / "chain.pem"),
            "fullchain_path": str(tmp / "fullchain.pem"),
            "acme_directory": info["proxy"]["directory"] if via_proxy else info["directory"],
            "acme_ca_bundle": info["ca_bundle"],
            "account_key_path": str(tmp / "account.key"),
            "account_email": "ops@example.test",
            "terms_agreed": True,
            "dns_provider": provider,
            "nameservers": [info["dns"]["nameserver"]],
            "propagation_timeout": 20,
            "timeout": 60,
        }
        if provider == "rfc2136":
            args["rfc2136"] = {"server": info["dns"]["nameserver"], "key_name": info["tsig"]["name"],
                               "key_secret": info["tsig"]["secret"], "key_algorithm": "hmac-sha256"}
        else:
            args["alidns"] = {"access_key_id": info["alidns"]["access_key_id"],
                              "access_key_secret": info["alidns"]["access_key_secret"],
                              "endpoint": info["alidns"]["endpoint"], "protocol": "http"}
        args.update(extra)
        return args

    # ---------------------------------------------------------------- DNS

    def txt(self, name: str, server: str = "dns") -> set[str]:
        query = dns.message.make_query(name, "TXT")
        response = dns.query.udp(query, "127.0.0.1", port=int(self.info[server]["port"]), timeout=3)
        values: set[str] = set()
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                for rdata in rrset:
                    values.add(b"".join(rdata.strings).decode())
        return values

    def challenge_txt_everywhere(self) -> dict[str, set[str]]:
        """Every TXT value under the lab's challenge names (should be empty after any run)."""
        names = ["_acme-challenge.example.test", "_acme-challenge.www.example.test", "alias.acme.delegated.test"]
        names += ["_acme-challenge.n%d.example.test" % i for i in range(1, 6)]
        found = {n: self.txt(n) for n in names}
        return {n: v for n, v in found.items() if v}

    # ---------------------------------------------------------------- stand-in and proxy

    def _read_json(self, path: str) -> dict[str, t.Any]:
        try:
            with open(path) as handle:
                data: dict[str, t.Any] = json.load(handle)
                return data
        except (OSError, ValueError):
            return {}

    def alidns_stats(self) -> dict[str, t.Any]:
        return self._read_json(self.info["alidns"]["stats_file"])

    def proxy_stats(self) -> dict[str, t.Any]:
        return self._read_json(self.info["proxy"]["stats_file"])

    def proxy_count(self, kind: str = "total") -> int:
        return int(self.proxy_stats().get("counts", {}).get(kind, 0))

    def alidns_control(self, **control: t.Any) -> None:
        _write_json(self.info["alidns"]["control_file"], control)

    def proxy_control(self, **control: t.Any) -> None:
        _write_json(self.info["proxy"]["control_file"], control)

    # ---------------------------------------------------------------- extra Pebbles

    def extra_pebble(self, name: str, nonce_reject: int = 0) -> dict[str, t.Any]:
        return start_pebble(self.state_dir, name, int(self.info["dns"]["port"]), nonce_reject=nonce_reject)

    def stop_pebble(self, name: str) -> None:
        stop_pid_file(self.state_dir, name, "pebble")

    def short_lived_ca(self, name: str = "shortlived", validity: int = 6 * 86400) -> dict[str, t.Any]:
        """A second CA: a Pebble issuing certificates of *validity* seconds (6 days) behind its own ACME proxy,
        whose directory offers the ``shortlived`` profile. Returns ``{"directory", "ca_bundle", "issuer_roots",
        "proxy": {...}}`` (stop it with stop_ca)."""
        pebble = start_pebble(self.state_dir, name, int(self.info["dns"]["port"]), validity=validity)
        try:
            proxy = start_proxy(self.state_dir, name + "-proxy", pebble,
                                profiles={"shortlived": "%d-hour certificates" % (validity // 3600)})
        except BaseException:
            self.stop_pebble(name)
            raise
        return {"name": name, "directory": proxy["directory"], "ca_bundle": pebble["ca_bundle"],
                "issuer_roots": pebble["issuer_roots"], "pebble": pebble, "proxy": proxy}

    def stop_ca(self, ca: t.Mapping[str, t.Any]) -> None:
        stop_pid_file(self.state_dir, ca["name"] + "-proxy", "acme_proxy.py")
        self.stop_pebble(ca["name"])

    def stats_of(self, ca: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        return self._read_json(ca["proxy"]["stats_file"])

    def control_of(self, ca: t.Mapping[str, t.Any], **control: t.Any) -> None:
        _write_json(ca["proxy"]["control_file"], control)


def _write_json(path: str, data: dict[str, t.Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


_running: dict[str, t.Any] = {"handle": None, "users": 0, "stop": None}


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[LabHandle]:
    if _running["handle"] is None:
        state = os.environ.get("GHOSTGUARD_LAB_DIR") or str(tmp_path_factory.mktemp("lab"))
        already_running = Lab.status(state) is not None  # someone's lab (make demo): use it, leave it running
        started = time.monotonic()
        info = Lab.start(state)
        print("lab up in %.1fs at %s" % (time.monotonic() - started, state))
        _running.update(handle=LabHandle(info), stop=None if already_running else state)
    _running["users"] += 1
    try:
        yield _running["handle"]
    finally:
        _running["users"] -= 1
        if _running["users"] == 0:
            if _running["stop"]:
                Lab.stop(_running["stop"])
            _running.update(handle=None, stop=None)


@pytest.fixture
def quiet_lab(lab: LabHandle) -> t.Iterator[LabHandle]:
    """The lab with no fault injection, reset again afterwards."""
    lab.alidns_control()
    lab.proxy_control()
    yield lab
    lab.alidns_control()
    lab.proxy_control()
