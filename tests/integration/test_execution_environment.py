# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An execution environment the way users build one: a top-level EE definition that installs the built
collection, `ansible-builder create`, then the build's own galaxy and introspection steps run on the
generated context, which must yield every Python and system dependency renew.yml needs."""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys

from ansible_run import ROOT

BIN = os.path.dirname(sys.executable)
# top-level import -> the pip requirement that provides it
PROVIDERS = {"cryptography": "cryptography", "acme": "acme", "josepy": "josepy", "dns": "dnspython",
             "aliyunsdkcore": "aliyun-python-sdk-core", "aliyunsdkalidns": "aliyun-python-sdk-alidns",
             "jmespath": "jmespath", "requests": "requests", "idna": "idna", "publicsuffixlist": "publicsuffixlist"}
ALWAYS_THERE = {"ansible", "ansible_collections", "__future__"}

EE = """\
version: 3
images:
  base_image:
    name: quay.io/ansible/awx-ee:latest
additional_build_files:
  - src: {tarball}
    dest: collections
dependencies:
  galaxy:
    collections:
      - name: collections/{name}
        type: file
"""


def third_party_imports() -> set[str]:
    """Top-level modules imported anywhere in plugins/ that are neither stdlib nor Ansible."""
    found: set[str] = set()
    for path in pathlib.Path(ROOT, "plugins").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ALWAYS_THERE:
                    found.add(top)
    return found


def test_builder_context_holds_every_dependency(tmp_path: pathlib.Path) -> None:
    imports = third_party_imports()
    assert imports <= set(PROVIDERS), "new third-party imports need an entry here and in requirements.txt: %s" % (
        imports - set(PROVIDERS))
    build = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force", "--output-path",
                            str(tmp_path), ROOT], capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    tarball = next(tmp_path.glob("ghostguard-certs-*.tar.gz"))
    (tmp_path / "execution-environment.yml").write_text(EE.format(tarball=tarball.name, name=tarball.name))
    context = tmp_path / "context"
    create = subprocess.run([os.path.join(BIN, "ansible-builder"), "create", "-f", "execution-environment.yml",
                             "-c", str(context)], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert create.returncode == 0, create.stdout + create.stderr
    dockerfile = (context / "Dockerfile").read_text()
    assert "introspect.py introspect" in dockerfile and "ansible-galaxy collection install" in dockerfile
    # the galaxy stage: install from the context alone (COPY _build /build; WORKDIR /build)
    collections = tmp_path / "usr-share-ansible-collections"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1")
    galaxy = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", "-r",
                             "requirements.yml", "--collections-path", str(collections)],
                            capture_output=True, text=True, cwd=context / "_build", env=env, check=False)
    assert galaxy.returncode == 0, galaxy.stdout + galaxy.stderr
    installed = collections / "ansible_collections" / "ghostguard" / "certs"
    assert (installed / "playbooks" / "renew.yml").is_file()
    assert (installed / "meta" / "execution-environment.yml").is_file()
    # the builder stage: introspect the installed collection with the script the context carries
    pip_out, bindep_out = tmp_path / "requirements.txt", tmp_path / "bindep.txt"
    intro = subprocess.run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                            "--write-pip", str(pip_out), "--write-bindep", str(bindep_out), str(collections)],
                           capture_output=True, text=True, check=False)
    assert intro.returncode == 0, intro.stdout + intro.stderr
    pip_reqs = {line.split("#")[0].strip().split(">")[0].split("=")[0].split("<")[0].strip().lower()
                for line in pip_out.read_text().splitlines() if line.strip() and not line.startswith("#")}
    needed = {PROVIDERS[i] for i in imports} | {"jmespath"}   # jmespath: the json_query filter of the report
    assert needed <= pip_reqs, "missing from the EE: %s (have %s)" % (needed - pip_reqs, sorted(pip_reqs))
    assert "python3-cryptography" in bindep_out.read_text()
