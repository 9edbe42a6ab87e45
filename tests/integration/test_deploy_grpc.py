# SPDX-License-Identifier: GPL-3.0-or-later
"""deploy + a grpcio server over TLS that reloads on SIGHUP, and a ghost that ignores the reload."""

from __future__ import annotations

import json
import pathlib
import typing as t

import pytest
from ansible_run import run_module, run_playbook
from deploy_lab import DeployLab, fp
from services import GrpcServer

GHOST_PLAY = """
- name: Renew one gRPC service and prove it, roll back on a ghost
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Install and prove
      block:
        - name: Install the new certificate
          ghostguard.certs.deploy: "{{ deploy_args }}"
          register: installed

        - name: Reload the service
          ansible.builtin.command: kill -HUP {{ service_pid }}
          changed_when: true

        - name: Prove the service serves it
          ghostguard.certs.endpoint_info:
            host: 127.0.0.1
            port: "{{ service_port }}"
            server_name: "{{ service_name }}"
            alpn: [h2]
            ca_bundle: "{{ ca_bundle }}"
            expected_fingerprint: "{{ installed.certificate.fingerprint_sha256 }}"
            retries: 5
            retry_delay: 0.2
          register: proof
      rescue:
        - name: Record the ghost
          ansible.builtin.copy:
            content: "{{ ansible_failed_result | to_json }}"
            dest: "{{ report }}"
            mode: "0600"

        - name: Roll back to the certificate the service still serves
          ghostguard.certs.deploy:
            state: rollback
            cert_path: "{{ deploy_args.cert_path }}"
            key_path: "{{ deploy_args.key_path }}"
            chain_path: "{{ deploy_args.chain_path }}"
            fullchain_path: "{{ deploy_args.fullchain_path }}"
            from_fingerprint: "{{ installed.certificate.fingerprint_sha256 }}"
          register: rolled_back

        - name: Prove the previous certificate is served and installed again
          ghostguard.certs.endpoint_info:
            host: 127.0.0.1
            port: "{{ service_port }}"
            server_name: "{{ service_name }}"
            alpn: [h2]
            ca_bundle: "{{ ca_bundle }}"
            expected_fingerprint: "{{ rolled_back.certificate.fingerprint_sha256 }}"

        - name: Stop the batch
          ansible.builtin.fail:
            msg: "ghost: {{ service_name }} kept serving the old certificate; rolled back to generation {{ rolled_back.generation }}"
"""


def start_service(tmp: pathlib.Path, ghost: bool) -> tuple[DeployLab, GrpcServer, str]:
    lab = DeployLab(str(tmp))
    first = lab.issue()
    run = run_module("ghostguard.certs.deploy", lab.module_args(first))
    assert run.rc == 0, run.stdout + run.stderr
    server = GrpcServer(str(tmp / "grpc"), lab.fullchain_path, lab.key_path, ghost=ghost).start()
    return lab, server, fp(first.cert)


def running_service(tmp_path: pathlib.Path, ghost: bool) -> t.Iterator[tuple[DeployLab, GrpcServer, str]]:
    lab, server, first = start_service(tmp_path, ghost=ghost)
    try:
        yield lab, server, first
    finally:
        server.stop()


@pytest.fixture
def grpc_service(tmp_path: pathlib.Path) -> t.Iterator[tuple[DeployLab, GrpcServer, str]]:
    yield from running_service(tmp_path, ghost=False)


@pytest.fixture
def ghost_service(tmp_path: pathlib.Path) -> t.Iterator[tuple[DeployLab, GrpcServer, str]]:
    yield from running_service(tmp_path, ghost=True)


def test_grpc_reload_serves_new_certificate_over_h2(grpc_service: tuple[DeployLab, GrpcServer, str]) -> None:
    lab, server, first = grpc_service
    assert server.ping(lab.root_file, lab.name) == "pong"
    new = lab.issue()
    run = run_module("ghostguard.certs.deploy", lab.module_args(new))
    assert run.rc == 0 and run.result["generation"] == 2
    server.reload()
    res = run_module("ghostguard.certs.endpoint_info", {
        "endpoints": [{"host": "127.0.0.1", "port": server.port, "server_name": lab.name,
                       "expected_fingerprint": fp(new.cert)}],
        "alpn": ["h2"], "ca_bundle": lab.root_file, "retries": 10, "retry_delay": 0.2,
    })
    assert res.rc == 0, res.stdout
    served = res.result["endpoints"][0]
    assert served["matches_expected"] is True and served["alpn_protocol"] == "h2"
    assert served["certificate"]["fingerprint_sha256"] != first
    assert server.ping(lab.root_file, lab.name) == "pong"


def test_ghost_detected_and_rolled_back(ghost_service: tuple[DeployLab, GrpcServer, str],
                                        tmp_path: pathlib.Path) -> None:
    lab, server, first = ghost_service
    new = lab.issue()
    report = tmp_path / "ghost.json"
    play = tmp_path / "ghost.yml"
    play.write_text(GHOST_PLAY)
    assert server.proc is not None
    proc = run_playbook(str(play), {
        "deploy_args": lab.module_args(new), "service_pid": server.proc.pid, "service_port": server.port,
        "service_name": lab.name, "ca_bundle": lab.root_file, "report": str(report),
    })
    assert proc.returncode != 0, proc.stdout
    assert "ghost: %s kept serving the old certificate; rolled back to generation 1" % lab.name in proc.stdout
    failed = json.loads(report.read_text())
    assert failed["endpoints"][0]["matches_expected"] is False
    assert failed["endpoints"][0]["certificate"]["fingerprint_sha256"] == first
    assert failed["endpoints"][0]["attempts"] == 6
    assert "still serves another certificate" in failed["msg"]
    # the previous generation is on disk and served
    assert lab.installed().fingerprint == first
    assert server.ping(lab.root_file, lab.name) == "pong"
    assert new.key_pem.decode().splitlines()[1] not in proc.stdout + proc.stderr
