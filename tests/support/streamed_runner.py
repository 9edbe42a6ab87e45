# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a playbook the way AWX runs a job on an execution node: a private data directory packed by
``ansible-runner transmit``, unpacked and run by ``ansible-runner worker`` in a directory of its own, and its
stream turned back into artifacts by ``ansible-runner process`` in a third one (nothing shared but the pipe).

    job = StreamedJob(tmp / "job", ident="renew")
    job.project({"renew.yml": "- ansible.builtin.import_playbook: ghostguard.certs.renew\\n"})
    job.inventory_from(fleet_inventory_dir)
    job.extravars({...}); job.vault_password("secret")     # --ask-vault-pass answered like AWX's vault credential
    result = job.run("renew.yml")
    result.rc, result.status, result.events, result.stats_artifact
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys
import typing as t

import yaml
from ansible_run import COLLECTIONS, ensure_collection_link

BIN = os.path.dirname(sys.executable)


@dataclasses.dataclass
class StreamedResult:
    rc: int
    status: str
    artifacts: pathlib.Path
    events: list[dict[str, t.Any]]
    stdout: str
    pipe_rcs: tuple[int, int, int]

    @property
    def stats_artifact(self) -> dict[str, t.Any]:
        """The set_stats data of the run (what AWX shows as the job's artifacts)."""
        for event in self.events:
            if event.get("event") == "playbook_on_stats":
                data: dict[str, t.Any] = event["event_data"].get("artifact_data") or {}
                return data
        raise AssertionError("no playbook_on_stats event in %s" % self.artifacts)

    def names(self, kind: str) -> list[str]:
        """The names of the plays (playbook_on_play_start) or tasks (playbook_on_task_start) in the events."""
        key = "play" if kind == "playbook_on_play_start" else "task"
        return [str(e["event_data"].get(key)) for e in self.events if e.get("event") == kind]


class StreamedJob:
    """One job's private data directory (what AWX's control node prepares) and the three runner processes."""

    def __init__(self, root: pathlib.Path, ident: str) -> None:
        self.root = root
        self.ident = ident
        self.private = root / "private"          # the control node's job directory
        self.worker_dir = root / "worker"        # the execution node's directory
        self.out = root / "out"                  # where the control node processes the stream
        for folder in (self.private / "project", self.private / "env", self.private / "inventory"):
            folder.mkdir(parents=True, exist_ok=True)
        ensure_collection_link()
        self._write("env/envvars", {"ANSIBLE_COLLECTIONS_PATH": COLLECTIONS, "ANSIBLE_NOCOLOR": "1",
                                    "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_RETRY_FILES_ENABLED": "false",
                                    "PATH": BIN + os.pathsep + os.environ.get("PATH", "")})
        self.cmdline: list[str] = []

    def _write(self, rel: str, data: t.Any) -> None:
        path = self.private / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)

    def project(self, files: t.Mapping[str, str]) -> None:
        for name, text in files.items():
            self._write("project/" + name, text)

    def inventory_from(self, directory: str) -> None:
        target = self.private / "inventory"
        shutil.rmtree(target)
        shutil.copytree(directory, target)

    def extravars(self, data: t.Mapping[str, t.Any]) -> None:
        self._write("env/extravars", dict(data))

    def vault_password(self, password: str) -> None:
        """The vault credential as AWX passes it: ansible-playbook prompts, the runner answers from env/passwords."""
        self.cmdline.append("--ask-vault-pass")
        self._write("env/passwords", {r"^Vault password:\s*?$": password})

    def limit(self, pattern: str) -> None:
        self.cmdline += ["--limit", pattern]

    def run(self, playbook: str, timeout: float = 900) -> StreamedResult:
        if self.cmdline:
            self._write("env/cmdline", " ".join(self.cmdline))
        runner = os.path.join(BIN, "ansible-runner")
        env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
        self.out.mkdir(parents=True, exist_ok=True)
        transmit = subprocess.Popen([runner, "transmit", str(self.private), "-p", playbook, "--ident", self.ident],
                                    stdout=subprocess.PIPE, env=env)
        worker = subprocess.Popen([runner, "worker", "--private-data-dir", str(self.worker_dir)],
                                  stdin=transmit.stdout, stdout=subprocess.PIPE, env=env)
        assert transmit.stdout is not None and worker.stdout is not None
        transmit.stdout.close()  # the worker holds the read end now
        process = subprocess.Popen([runner, "process", str(self.out), "--ident", self.ident],
                                   stdin=worker.stdout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   env=env, text=True)
        worker.stdout.close()
        stdout = process.communicate(timeout=timeout)[0]
        rcs = (transmit.wait(timeout=60), worker.wait(timeout=60), process.returncode)
        artifacts = self.out / "artifacts" / self.ident
        events = []
        for path in sorted((artifacts / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0])):
            events.append(json.loads(path.read_text()))
        rc_file, status_file = artifacts / "rc", artifacts / "status"
        return StreamedResult(rc=int(rc_file.read_text().strip()) if rc_file.exists() else -1,
                              status=status_file.read_text().strip() if status_file.exists() else "missing",
                              artifacts=artifacts, events=events, stdout=stdout, pipe_rcs=rcs)
