# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_deps: the one place that tells whether an optional library is there, and requirements.txt equal to it."""

from __future__ import annotations

import ast
import os
import pathlib
import shlex
import subprocess
import sys
import typing as t

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils import _deps
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError, MissingLibraryError

ROOT = pathlib.Path(__file__).resolve().parents[4]
ENGINE = ROOT / "plugins" / "module_utils"


@pytest.fixture
def hidden(monkeypatch: pytest.MonkeyPatch) -> t.Iterator[t.Callable[[str], None]]:
    """Make a top-level package unimportable for this test (sys.modules[name] = None makes import fail)."""

    def hide(package: str) -> None:
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, package, None)  # type: ignore[arg-type]

    _deps.forget()
    yield hide
    monkeypatch.undo()
    _deps.forget()


def _requirements_txt() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_requirements_txt_is_exactly_what_deps_declares() -> None:
    declared = [req for lib in _deps.LIBRARIES.values() for req in lib.requirements]
    assert sorted(_requirements_txt()) == sorted(dict.fromkeys(declared))


def test_execution_environment_installs_requirements_txt() -> None:
    import yaml

    ee = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert ee["dependencies"]["python"] == "requirements.txt"
    assert (ROOT / ee["dependencies"]["system"]).is_file()


def _third_party_imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__", "ansible", "ansible_collections"}


def test_every_third_party_import_of_the_engine_is_declared() -> None:
    declared = {module.split(".")[0] for lib in _deps.LIBRARIES.values() for module, _req in lib.imports}
    used: dict[str, list[str]] = {}
    for path in sorted(ENGINE.rglob("*.py")):
        for name in _third_party_imports(path):
            used.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert set(used) <= declared, {k: v for k, v in used.items() if k not in declared}
    assert "acme" in used and "dns" in used and "aliyunsdkcore" in used  # the scan sees real imports


def test_no_engine_file_keeps_its_own_availability_flag() -> None:
    for path in ENGINE.rglob("*.py"):
        text = path.read_text()
        assert "IMPORT_ERROR" not in text and "HAS_CRYPTOGRAPHY" not in text, path
        assert "missing_required_lib" not in text, path


def test_everything_installed_passes() -> None:
    _deps.forget()
    _deps.require(*_deps.LIBRARIES)
    assert all(_deps.available(feature) for feature in _deps.LIBRARIES)


def test_missing_library_names_distribution_and_pip_line(hidden: t.Callable[[str], None]) -> None:
    hidden("josepy")
    assert not _deps.available("acme")
    assert _deps.available("dnspython")
    with pytest.raises(MissingLibraryError) as info:
        _deps.require("cryptography", "acme", "dnspython")
    exc = info.value
    assert isinstance(exc, CertsError)
    assert exc.details["error_kind"] == "missing_library"
    assert exc.details["missing"] == ["josepy"]
    assert exc.details["requirements"] == ["josepy>=2.0"]
    line = "%s -m pip install 'josepy>=2.0'" % shlex.quote(sys.executable)
    assert exc.details["pip_install"] == line
    message = str(exc)
    assert "josepy" in message and line in message and "ACME orders" in message
    assert "requirements.txt" in message


def test_every_missing_library_is_reported_at_once(hidden: t.Callable[[str], None]) -> None:
    hidden("dns")
    hidden("aliyunsdkcore")
    with pytest.raises(MissingLibraryError) as info:
        _deps.require("cryptography", "dnspython", "aliyun")
    assert info.value.details["missing"] == ["dnspython", "aliyun-python-sdk-core"]
    assert info.value.details["pip_install"].endswith("install 'dnspython>=2.0' 'aliyun-python-sdk-core>=2.13.5'")
    assert "libraries dnspython, aliyun-python-sdk-core" in str(info.value)


def test_forget_probes_again(hidden: t.Callable[[str], None], monkeypatch: pytest.MonkeyPatch) -> None:
    hidden("jmespath")
    assert not _deps.available("jmespath")
    monkeypatch.delitem(sys.modules, "jmespath")
    assert not _deps.available("jmespath")  # cached until forgotten
    _deps.forget()
    assert _deps.available("jmespath")


def test_too_old_distribution_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _deps._too_old("pytest>=1.0") is None
    reason = _deps._too_old("pytest>=9999.1")
    assert reason is not None and "is installed, pytest>=9999.1 is needed" in reason
    assert _deps._too_old("no-such-distribution-here>=1.0") is None  # no metadata: trust the import


def test_unknown_feature_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown library feature 'openssl'"):
        _deps.require("openssl")


def test_engine_imports_without_the_optional_libraries(tmp_path: pathlib.Path) -> None:
    """What ansible-test's import test does: import every engine file with the libraries absent."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "for name in ('cryptography', 'acme', 'josepy', 'requests', 'dns', 'aliyunsdkcore', 'aliyunsdkalidns', 'jmespath'):\n"
        "    sys.modules[name] = None\n"
    )
    script = (
        "import importlib, pkgutil\n"
        "import ansible_collections.ghostguard.certs.plugins.module_utils as mu\n"
        "names = [m.name for m in pkgutil.walk_packages(mu.__path__, mu.__name__ + '.')]\n"
        "for name in names: importlib.import_module(name)\n"
        "from ansible_collections.ghostguard.certs.plugins.module_utils import _deps, _errors, _x509\n"
        "from ansible_collections.ghostguard.certs.plugins.module_utils._dns import registry\n"
        "try:\n"
        "    _x509.load_certificates(b'x')\n"
        "except _errors.MissingLibraryError as exc:\n"
        "    print('MISSING', exc.details['missing'])\n"
        "try:\n"
        "    registry.make_provider('alidns', {'access_key_id': 'a', 'access_key_secret': 'b'})\n"
        "except _errors.MissingLibraryError as exc:\n"
        "    print('MISSING', exc.details['missing'])\n"
        "print(len(names))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT / ".build" / "collections")]))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "MISSING ['cryptography']"
    assert lines[1] == "MISSING ['aliyun-python-sdk-core', 'aliyun-python-sdk-alidns']"
    assert int(lines[2]) >= 20  # every engine file was imported


# ------------------------------------------------------------------ the certwatch agent's Python on a host


def test_agent_interpreter_is_the_python_on_the_agents_command_line(tmp_path: pathlib.Path) -> None:
    venv_python = tmp_path / "venv" / "bin" / "python3"
    venv_python.parent.mkdir(parents=True)
    venv_python.symlink_to(sys.executable)  # a venv's python is a link to the system one: still another interpreter
    command = tmp_path / "certwatch"
    command.write_text("#!%s -IS\n# Managed by the ghostguard.certs.certwatch role\n" % venv_python)
    assert _deps.agent_interpreter(str(command)) == str(venv_python)


@pytest.mark.parametrize("first_line", ["", "#!\n", "#!relative/python3\n", "#!/nonexistent/bin/python3 -I\n",
                                        "import sys\n", "#!%s\n" % sys.executable])
def test_agent_interpreter_none_when_no_other_usable_python(tmp_path: pathlib.Path, first_line: str) -> None:
    command = tmp_path / "certwatch"
    command.write_text(first_line + "print('x')\n")
    assert _deps.agent_interpreter(str(command)) is None  # the last one: the agent's Python is the one running


def test_agent_interpreter_none_without_the_agent(tmp_path: pathlib.Path) -> None:
    assert _deps.agent_interpreter(str(tmp_path / "missing")) is None
