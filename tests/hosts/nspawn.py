# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real systemd test hosts without Docker: Debian bookworm trees booted with systemd-nspawn.

    nspawn.py create --state DIR host1 host2   # boot hosts, write DIR/hosts.json and DIR/inventory.yml
    nspawn.py destroy --state DIR              # stop them by PID and remove their trees
    nspawn.py rootfs                           # build (once) the cached bookworm tree
    nspawn.py create --state DIR --packages nginx-light,python3-venv --host-network h1 h2

``--packages`` boots the hosts from a variant of the cached tree with these Debian packages added
(built once from the base tree with apt inside ``systemd-nspawn``, cached by package list; services
the packages enable are disabled, so nothing listens before a test configures it).
``--host-network`` shares the machine's network namespace instead of ``--private-network``: the
hosts then reach servers on the machine's loopback (the ACME lab) and each host's services must
listen on ports of their own.

Ansible reaches a host with the ``community.docker.nsenter`` connection and ``ansible_nsenter_pid`` =
the PID of the host's init.  Hosts have a private network (loopback only) unless ``--host-network``.  Molecule's delegated
driver calls create/destroy from its create.yml / destroy.yml.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

CACHE = os.environ.get("GHOSTGUARD_ROOTFS_CACHE", "/var/cache/ghostguard-certs")
ROOTFS = os.path.join(CACHE, "bookworm-rootfs")
PACKAGES = "python3,systemd,systemd-sysv,dbus,python3-cffi-backend,python3-cryptography"
BOOT_TIMEOUT = 90.0


def mirror() -> str:
    """The Debian mirror the machine's own apt uses."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            with open(path) as handle:
                for line in handle:
                    parts = line.split()
                    if line.startswith("URIs:") and len(parts) > 1 and "security" not in parts[1]:
                        return parts[1]
                    if line.startswith("deb ") and len(parts) > 1 and "security" not in parts[1]:
                        return parts[1]
        except OSError:
            continue
    return "http://deb.debian.org/debian"


def build_rootfs() -> str:
    """Debootstrap the tree once (about a minute), atomically into the cache."""
    if os.path.exists(os.path.join(ROOTFS, "usr", "bin", "python3")):
        return ROOTFS
    for tool in ("debootstrap", "systemd-nspawn", "nsenter"):
        if shutil.which(tool) is None:
            sys.exit("nspawn: %s is missing; run 'make apt' (packages debootstrap, systemd-container)" % tool)
    os.makedirs(CACHE, exist_ok=True)
    tmp = ROOTFS + ".tmp-%d" % os.getpid()
    shutil.rmtree(tmp, ignore_errors=True)
    print("nspawn: building the bookworm tree in %s (about a minute, once)" % ROOTFS, file=sys.stderr, flush=True)
    proc = subprocess.run(
        ["debootstrap", "--variant=minbase", "--include=" + PACKAGES, "bookworm", tmp, mirror()],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        sys.exit("nspawn: debootstrap failed:\n" + proc.stdout[-2000:] + proc.stderr[-2000:])
    # No getty on a console nobody reads; boots faster and quieter.
    for unit in ("console-getty.service", "getty@.service", "systemd-networkd-wait-online.service"):
        os.symlink("/dev/null", os.path.join(tmp, "etc", "systemd", "system", unit))
    os.rename(tmp, ROOTFS)
    return ROOTFS


def build_variant(packages: list[str]) -> str:
    """The base tree plus *packages* (apt inside the tree, network shared with the machine), cached."""
    base = build_rootfs()
    if not packages:
        return base
    wanted = sorted(set(packages))
    digest = hashlib.sha256(",".join(wanted).encode()).hexdigest()[:10]
    variant = "%s-%s" % (ROOTFS, digest)
    if os.path.exists(os.path.join(variant, ".ghostguard-packages")):
        return variant
    tmp = variant + ".tmp-%d" % os.getpid()
    shutil.rmtree(tmp, ignore_errors=True)
    print("nspawn: adding %s to a copy of the tree (once)" % " ".join(wanted), file=sys.stderr, flush=True)
    subprocess.run(["cp", "-a", "--reflink=auto", base, tmp], check=True)
    policy = os.path.join(tmp, "usr", "sbin", "policy-rc.d")
    with open(policy, "w") as handle:  # no service starts inside the build
        handle.write("#!/bin/sh\nexit 101\n")
    os.chmod(policy, 0o755)
    script = (
        "set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; "
        "apt-get install -y -qq --no-install-recommends %s >/dev/null; apt-get clean; "
        "rm -rf /var/lib/apt/lists/*; rm -f /etc/nginx/sites-enabled/default; "
        "for u in nginx.service cron.service; do systemctl disable $u >/dev/null 2>&1 || true; done"
        % " ".join(wanted)
    )
    proc = subprocess.run(
        ["systemd-nspawn", "-q", "-D", tmp, "--register=no", "--keep-unit", "--pipe", "/bin/sh", "-c", script],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )
    os.unlink(policy)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        sys.exit("nspawn: installing %s failed:\n%s%s" % (" ".join(wanted), proc.stdout[-2000:], proc.stderr[-2000:]))
    with open(os.path.join(tmp, ".ghostguard-packages"), "w") as handle:
        handle.write("\n".join(wanted) + "\n")
    os.rename(tmp, variant)
    return variant


def _init_pid(nspawn_pid: int) -> int | None:
    try:
        out = subprocess.run(["pgrep", "-P", str(nspawn_pid)], capture_output=True, text=True, check=False).stdout
    except OSError:
        return None
    pids = [int(p) for p in out.split()]
    return pids[0] if pids else None


def _running(pid: int) -> str:
    proc = subprocess.run(
        ["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "--", "systemctl", "is-system-running"],
        capture_output=True, text=True, check=False,
    )
    return proc.stdout.strip()


def create(state: str, names: list[str], packages: list[str] | None = None,
           host_network: bool = False) -> dict[str, dict[str, object]]:
    rootfs = build_variant(packages or [])
    os.makedirs(state, exist_ok=True)
    hosts = load(state)
    for name in names:
        if name in hosts and _alive(int(hosts[name]["nspawn_pid"])):  # type: ignore[call-overload]
            continue
        root = os.path.join(state, "roots", name)
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(os.path.dirname(root), exist_ok=True)
        subprocess.run(["cp", "-a", "--reflink=auto", rootfs, root], check=True)
        with open(os.path.join(root, "etc", "hostname"), "w") as handle:
            handle.write(name + "\n")
        log = open(os.path.join(state, name + ".log"), "wb")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            ["systemd-nspawn", "-D", root, "--register=no", "--keep-unit",
             *([] if host_network else ["--private-network"]), "--machine", name, "-b"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        hosts[name] = {"nspawn_pid": proc.pid, "root": root}
        save(state, hosts)
    deadline = time.monotonic() + BOOT_TIMEOUT
    for name in names:
        entry = hosts[name]
        while True:
            pid = _init_pid(int(entry["nspawn_pid"]))  # type: ignore[call-overload]
            status = _running(pid) if pid else ""
            if status in ("running", "degraded"):
                entry["pid"] = pid
                break
            if time.monotonic() > deadline or not _alive(int(entry["nspawn_pid"])):  # type: ignore[call-overload]
                sys.exit("nspawn: host %s did not boot within %ds (state %r); see %s"
                         % (name, BOOT_TIMEOUT, status, os.path.join(state, name + ".log")))
            time.sleep(0.5)
    save(state, hosts)
    write_inventory(state, hosts)
    return hosts


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def destroy(state: str) -> None:
    hosts = load(state)
    for _name, entry in hosts.items():
        pid = int(entry["nspawn_pid"])  # type: ignore[call-overload]
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)  # nspawn asks the host's systemd to power off
            deadline = time.monotonic() + 20
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        shutil.rmtree(str(entry["root"]), ignore_errors=True)
    for name in ("hosts.json", "inventory.yml"):
        try:
            os.unlink(os.path.join(state, name))
        except FileNotFoundError:
            pass


def load(state: str) -> dict[str, dict[str, object]]:
    try:
        with open(os.path.join(state, "hosts.json")) as handle:
            data: dict[str, dict[str, object]] = json.load(handle)
            return data
    except FileNotFoundError:
        return {}


def save(state: str, hosts: dict[str, dict[str, object]]) -> None:
    tmp = os.path.join(state, "hosts.json.tmp")
    with open(tmp, "w") as handle:
        json.dump(hosts, handle, indent=2)
    os.replace(tmp, os.path.join(state, "hosts.json"))


def write_inventory(state: str, hosts: dict[str, dict[str, object]]) -> None:
    lines = ["all:", "  hosts:"]
    for name, entry in sorted(hosts.items()):
        lines += [
            "    %s:" % name,
            "      ansible_connection: community.docker.nsenter",
            "      ansible_nsenter_pid: %s" % entry["pid"],
            "      ansible_python_interpreter: /usr/bin/python3",
        ]
    with open(os.path.join(state, "inventory.yml"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("create", "destroy", "rootfs"))
    parser.add_argument("names", nargs="*")
    parser.add_argument("--state", default=os.path.join(os.getcwd(), ".hosts"))
    parser.add_argument("--packages", default="", help="comma-separated Debian packages to add to the tree")
    parser.add_argument("--host-network", action="store_true",
                        help="share the machine's network (reach its loopback) instead of a private network")
    args = parser.parse_intermixed_args()
    if os.geteuid() != 0:
        sys.exit("nspawn: test hosts need root (systemd-nspawn); run as root")
    packages = [p for p in args.packages.split(",") if p]
    if args.action == "rootfs":
        print(build_variant(packages))
    elif args.action == "create":
        if not args.names:
            parser.error("create needs host names")
        hosts = create(os.path.abspath(args.state), args.names, packages, args.host_network)
        print(json.dumps({n: h["pid"] for n, h in hosts.items()}))
    else:
        destroy(os.path.abspath(args.state))


if __name__ == "__main__":
    main()
