# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real systemd test hosts without Docker: Debian bookworm trees booted with systemd-nspawn.

    nspawn.py create --state DIR host1 host2   # boot hosts, write DIR/hosts.json and DIR/inventory.yml
    nspawn.py destroy --state DIR              # stop them by PID and remove their trees
    nspawn.py rootfs                           # build (once) the cached bookworm tree
    nspawn.py create --state DIR --packages nginx-light,python3-venv --host-network h1 h2
    nspawn.py create --state DIR --ssh --host-network \
        --packages openssh-server,sudo,nginx-light,-python3-cryptography h3   # an SSH host without cryptography

``--packages`` boots the hosts from a variant of the cached tree with these Debian packages added
(built once from the base tree with apt inside ``systemd-nspawn``, cached by package list; services
the packages enable are disabled, so nothing listens before a test configures it).
A package written ``-name`` is removed instead (``-python3-cryptography``: a minimal host whose Python
lacks cryptography; built from the variant with the other packages, cached too).
``--host-network`` shares the machine's network namespace instead of ``--private-network``: the
hosts then reach servers on the machine's loopback (the ACME lab) and each host's services must
listen on ports of their own.

``--ssh`` (with ``--host-network`` and ``openssh-server,sudo`` in ``--packages``) makes each host an SSH
host as a fleet has them: sshd on a free port of its own on 127.0.0.1 with a host key of its own, a
non-root login user (``--ssh-user``, default ``ansible``) with NOPASSWD sudo, the controller's public
key (``--ssh-key``; default a key made once in ``DIR/id_ed25519``) in its authorized_keys, and the
host keys in ``DIR/known_hosts``.  The inventory then connects over SSH with ``become`` and pipelining.

Each host's tree is an overlay (upper directory of its own) on the cached tree, so a host costs a
few MiB of disk and no copy; where overlayfs is not available the tree is copied.  A host takes about
20 MiB of memory and 6 inotify instances: past about 20 hosts raise ``fs.inotify.max_user_instances``
(default 128, counted for root across all hosts) for the run.

Ansible reaches a host with the ``community.docker.nsenter`` connection and ``ansible_nsenter_pid`` =
the PID of the host's init (SSH hosts: the ``ssh`` connection).  Hosts have a private network (loopback only) unless ``--host-network``.  Molecule's delegated
driver calls create/destroy from its create.yml / destroy.yml.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

CACHE = os.environ.get("GHOSTGUARD_ROOTFS_CACHE", "/var/cache/ghostguard-certs")
ROOTFS = os.path.join(CACHE, "bookworm-rootfs")
PACKAGES = "python3,systemd,systemd-sysv,dbus,python3-cffi-backend,python3-cryptography"
BOOT_TIMEOUT = 90.0  # plus 3 s per host booting at once
SSH_USER = "ansible"
MARKER = ".ghostguard-packages"


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


def _publish(tmp: str, target: str) -> str:
    """Rename a finished tree into the cache; another process that finished first wins."""
    try:
        os.rename(tmp, target)
    except OSError:
        if not os.path.exists(os.path.join(target, MARKER)) and not os.path.exists(os.path.join(target, "usr", "bin")):
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return target


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
    return _publish(tmp, ROOTFS)


# Services the packages enable stay off until a test configures them (sshd: `create --ssh`); host keys
# are made per host, never shared through the cache.
_INSTALL = (
    "set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; "
    "apt-get install -y -qq --no-install-recommends %s >/dev/null; apt-get clean; "
    "rm -rf /var/lib/apt/lists/*; rm -f /etc/nginx/sites-enabled/default /etc/ssh/ssh_host_*; "
    "for u in nginx.service cron.service ssh.service; do systemctl disable $u >/dev/null 2>&1 || true; done"
)
_REMOVE = "set -e; export DEBIAN_FRONTEND=noninteractive; apt-get purge -y -qq %s >/dev/null; apt-get clean"


def build_variant(packages: list[str]) -> str:
    """The base tree plus *packages* (apt inside the tree, network shared with the machine), minus the
    ``-name`` ones (purged from the variant with the others), cached by package list."""
    base = build_rootfs()
    wanted = sorted(set(packages))
    if not wanted:
        return base
    digest = hashlib.sha256(",".join(wanted).encode()).hexdigest()[:10]
    variant = "%s-%s" % (ROOTFS, digest)
    if os.path.exists(os.path.join(variant, MARKER)):
        return variant
    removed = [p[1:] for p in wanted if p.startswith("-")]
    added = [p for p in wanted if not p.startswith("-")]
    source = build_variant(added) if removed else base
    tmp = variant + ".tmp-%d" % os.getpid()
    shutil.rmtree(tmp, ignore_errors=True)
    print("nspawn: %s a copy of the tree (once)" % ("removing %s from" % " ".join(removed) if removed
                                                    else "adding %s to" % " ".join(added)), file=sys.stderr, flush=True)
    subprocess.run(["cp", "-a", "--reflink=auto", source, tmp], check=True)
    policy = os.path.join(tmp, "usr", "sbin", "policy-rc.d")
    with open(policy, "w") as handle:  # no service starts inside the build
        handle.write("#!/bin/sh\nexit 101\n")
    os.chmod(policy, 0o755)
    script = _REMOVE % " ".join(removed) if removed else _INSTALL % " ".join(added)
    proc = subprocess.run(
        ["systemd-nspawn", "-q", "-D", tmp, "--register=no", "--keep-unit", "--pipe", "/bin/sh", "-c", script],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )
    os.unlink(policy)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        sys.exit("nspawn: changing the tree (%s) failed:\n%s%s" % (" ".join(wanted), proc.stdout[-2000:], proc.stderr[-2000:]))
    with open(os.path.join(tmp, MARKER), "w") as handle:
        handle.write("\n".join(wanted) + "\n")
    return _publish(tmp, variant)


# ------------------------------------------------------------------------------------------ host trees


def _mounted(path: str) -> bool:
    return subprocess.run(["mountpoint", "-q", path], check=False).returncode == 0


def _unmount(path: str) -> None:
    for args in (["umount", path], ["umount", "-l", path]):
        if not _mounted(path):
            return
        for _attempt in range(20):
            if subprocess.run(args, capture_output=True, check=False).returncode == 0 or not _mounted(path):
                break
            time.sleep(0.25)


def _remove_tree(entry: dict[str, object]) -> None:
    root = str(entry["root"])
    if os.path.isdir(root):
        _unmount(root)
    shutil.rmtree(root, ignore_errors=True)
    if entry.get("layer"):
        shutil.rmtree(str(entry["layer"]), ignore_errors=True)


def _make_tree(state: str, name: str, tree: str) -> dict[str, object]:
    """The host's root: an overlay with an upper directory of its own on the cached *tree*, else a copy."""
    root = os.path.join(state, "roots", name)
    layer = os.path.join(state, "layers", name)
    _remove_tree({"root": root, "layer": layer})
    os.makedirs(root)
    os.makedirs(os.path.join(layer, "upper"))
    os.makedirs(os.path.join(layer, "work"))
    options = "lowerdir=%s,upperdir=%s,workdir=%s" % (tree, os.path.join(layer, "upper"), os.path.join(layer, "work"))
    if subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, root],
                      capture_output=True, check=False).returncode == 0:
        return {"root": root, "layer": layer}
    shutil.rmtree(layer, ignore_errors=True)
    os.rmdir(root)
    subprocess.run(["cp", "-a", "--reflink=auto", tree, root], check=True)
    return {"root": root}


# ------------------------------------------------------------------------------------------ SSH hosts


_GIVEN: set[int] = set()


def free_port() -> int:
    """A free loopback port, never the same one twice in this process (ports are picked before they are bound)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def controller_key(state: str, given: str | None) -> tuple[str | None, str]:
    """(private key file or None, public key line) the hosts authorize: *given* or a key made once in *state*."""
    if given:
        pub = given if given.endswith(".pub") else given + ".pub"
        with open(pub) as handle:
            return (given[:-4] if given.endswith(".pub") else given), handle.read().strip()
    key = os.path.join(state, "id_ed25519")
    if not os.path.exists(key + ".pub"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ghostguard-test-controller", "-f", key],
                       check=True)
    with open(key + ".pub") as handle:
        return key, handle.read().strip()


def _write(path: str, text: str, mode: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


def setup_ssh(root: str, name: str, user: str, authorized: str) -> dict[str, object]:
    """sshd on a port of its own with a host key of its own, a sudo user with the controller's key (before boot)."""
    port = free_port()
    ssh = os.path.join(root, "etc", "ssh")
    if not os.path.exists(os.path.join(root, "usr", "sbin", "sshd")) or not os.path.exists(os.path.join(root, "usr", "bin", "sudo")):
        sys.exit("nspawn: --ssh needs openssh-server and sudo in --packages")
    for old in os.listdir(ssh):
        if old.startswith("ssh_host_"):
            os.unlink(os.path.join(ssh, old))
    key = os.path.join(ssh, "ssh_host_ed25519_key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@" + name, "-f", key], check=True)
    with open(key + ".pub") as handle:
        host_key = " ".join(handle.read().split()[:2])
    _write(os.path.join(ssh, "sshd_config.d", "ghostguard-test.conf"),
           "Port %d\nListenAddress 127.0.0.1\nHostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin no\n"
           "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n" % port, 0o644)
    wants = os.path.join(root, "etc", "systemd", "system", "multi-user.target.wants")
    os.makedirs(wants, exist_ok=True)
    if not os.path.lexists(os.path.join(wants, "ssh.service")):
        os.symlink("/lib/systemd/system/ssh.service", os.path.join(wants, "ssh.service"))
    passwd = _passwd(root)
    if user not in passwd:  # '*': no password (key only), not locked
        subprocess.run(["chroot", root, "useradd", "--create-home", "--shell", "/bin/bash", "--password", "*", user],
                       check=True, capture_output=True)
        passwd = _passwd(root)
    uid, gid, home = passwd[user]
    dot_ssh = os.path.join(root, home.lstrip("/"), ".ssh")
    _write(os.path.join(dot_ssh, "authorized_keys"), authorized + "\n", 0o600)
    for path in (dot_ssh, os.path.join(dot_ssh, "authorized_keys")):
        os.chown(path, uid, gid)
    os.chmod(dot_ssh, 0o700)
    _write(os.path.join(root, "etc", "sudoers.d", "ghostguard-test-" + user), "%s ALL=(ALL:ALL) NOPASSWD: ALL\n" % user, 0o440)
    return {"ssh_port": port, "ssh_user": user, "ssh_host_key": host_key}


def _passwd(root: str) -> dict[str, tuple[int, int, str]]:
    with open(os.path.join(root, "etc", "passwd")) as handle:
        rows = [line.rstrip("\n").split(":") for line in handle if line.count(":") >= 6]
    return {r[0]: (int(r[2]), int(r[3]), r[5]) for r in rows}


def _ssh_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(64).startswith(b"SSH-2.0")
    except OSError:
        return False


# ------------------------------------------------------------------------------------------ create, destroy


def _init_pid(nspawn_pid: int) -> int | None:
    try:
        out = subprocess.run(["pgrep", "-P", str(nspawn_pid)], capture_output=True, text=True, check=False).stdout
    except OSError:
        return None
    pids = [int(p) for p in out.split()]
    return pids[0] if pids else None


def _in_host(pid: int, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "--", *argv],
                          capture_output=True, text=True, check=False)


def _running(pid: int) -> str:
    return _in_host(pid, "systemctl", "is-system-running").stdout.strip()


def _failed_units(pid: int) -> list[str]:
    return [line.split()[0] for line in _in_host(pid, "systemctl", "--failed", "--plain", "--no-legend").stdout.splitlines()
            if line.strip()]


def _settled(pid: int, entry: dict[str, object], retried: set[str]) -> bool:
    """Booted, and (SSH hosts) sshd answering and logins allowed. A unit that failed while many hosts booted at once
    (systemd-user-sessions with 219/CGROUP leaves /run/nologin, refusing every login) is started once more."""
    status = _running(pid)
    if status not in ("running", "degraded"):
        return False
    failed = [u for u in _failed_units(pid) if u not in retried] if status == "degraded" else []
    if failed:
        retried.update(failed)
        _in_host(pid, "systemctl", "reset-failed")
        _in_host(pid, "systemctl", "start", "--no-block", *failed)
        return False
    if "ssh_port" not in entry:
        return True
    return _ssh_ready(int(entry["ssh_port"])) and _in_host(pid, "test", "-e", "/run/nologin").returncode != 0  # type: ignore[call-overload]


def create(state: str, names: list[str], packages: list[str] | None = None, host_network: bool = False,
           ssh: bool = False, ssh_user: str = SSH_USER, ssh_key: str | None = None) -> dict[str, dict[str, object]]:
    if ssh and not host_network:
        sys.exit("nspawn: --ssh needs --host-network (sshd listens on the machine's loopback)")
    tree = build_variant(packages or [])
    os.makedirs(state, exist_ok=True)
    hosts = load(state)
    key, authorized = controller_key(state, ssh_key) if ssh else (None, "")
    for name in names:
        if name in hosts and _alive(int(hosts[name].get("nspawn_pid", 0))):  # type: ignore[call-overload]
            continue
        if name in hosts:
            _remove_tree(hosts[name])
        entry = _make_tree(state, name, tree)
        hosts[name] = entry  # recorded before anything can fail: destroy removes it
        save(state, hosts)
        root = str(entry["root"])
        with open(os.path.join(root, "etc", "hostname"), "w") as handle:
            handle.write(name + "\n")
        with open(os.path.join(root, "etc", "hosts"), "w") as handle:  # sudo resolves the host's own name
            handle.write("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n" % name)
        if ssh:
            entry.update(setup_ssh(root, name, ssh_user, authorized), ssh_key=key)
        log = open(os.path.join(state, name + ".log"), "wb")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            ["systemd-nspawn", "-D", root, "--register=no", "--keep-unit",
             *([] if host_network else ["--private-network"]), "--machine", name, "-b"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        entry["nspawn_pid"] = proc.pid
        save(state, hosts)
    timeout = BOOT_TIMEOUT + 3 * len(names)
    deadline = time.monotonic() + timeout
    for name in names:
        entry = hosts[name]
        retried: set[str] = set()
        while True:
            pid = _init_pid(int(entry["nspawn_pid"]))  # type: ignore[call-overload]
            if pid and _settled(pid, entry, retried):
                entry["pid"] = pid
                break
            if time.monotonic() > deadline or not _alive(int(entry["nspawn_pid"])):  # type: ignore[call-overload]
                boot_log = os.path.join(state, name + ".log")
                sys.exit("nspawn: host %s did not boot within %ds (state %r, failed units: %s%s); see %s%s"
                         % (name, timeout, _running(pid) if pid else "", " ".join(_failed_units(pid)) if pid else "-",
                            "; sshd on port %s not answering or logins not allowed yet" % entry["ssh_port"]
                            if "ssh_port" in entry else "", boot_log, _limit_hint(boot_log)))
            time.sleep(0.5)
    save(state, hosts)
    write_inventory(state, hosts)
    return hosts


def _limit_hint(log: str) -> str:
    """Every host's systemd takes inotify instances, all counted for root (default limit 128: about 20 hosts)."""
    try:
        with open(log, "rb") as handle:
            full = b"Too many open files" in handle.read()
    except OSError:
        return ""
    return ("; inotify instances ran out (fs.inotify.max_user_instances, about 6 per host): raise it for the run, "
            "e.g. sysctl -w fs.inotify.max_user_instances=512, and set it back afterwards") if full else ""


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def destroy(state: str) -> None:
    """Stop every host (all asked at once, each killed after 20 s), unmount and remove their trees."""
    hosts = load(state)
    pids = [int(entry.get("nspawn_pid", 0)) for entry in hosts.values()]  # type: ignore[call-overload]
    _stop_all(pids)
    for pid in pids:
        _kill_and_reap(pid)
    for entry in hosts.values():
        _remove_tree(entry)
    _remove_state_files(state)


def _stop_all(pids: list[int]) -> None:
    """Ask every host to power off at once, then wait up to 20 s for all of them to be gone."""
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)  # nspawn asks the host's systemd to power off
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)


def _kill_and_reap(pid: int) -> None:
    """Kill a host that is still up (its nspawn's process group) and reap its nspawn if it is our child."""
    if _alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    if pid > 0:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _remove_state_files(state: str) -> None:
    """Remove the state directory's files and its roots/ and layers/ folders (when empty)."""
    for name in ("hosts.json", "inventory.yml", "known_hosts"):
        try:
            os.unlink(os.path.join(state, name))
        except FileNotFoundError:
            pass
    for folder in ("roots", "layers"):
        try:
            os.rmdir(os.path.join(state, folder))
        except OSError:
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


def ssh_vars(state: str, entry: dict[str, object]) -> dict[str, object]:
    """How Ansible reaches an SSH host: a non-root user, become, pipelining, the hosts' own known_hosts."""
    return {
        "ansible_connection": "ssh",
        "ansible_host": "127.0.0.1",
        "ansible_port": entry["ssh_port"],
        "ansible_user": entry["ssh_user"],
        **({"ansible_ssh_private_key_file": entry["ssh_key"]} if entry.get("ssh_key") else {}),
        "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
                                   % os.path.join(state, "known_hosts"),
        "ansible_become": True,
        "ansible_pipelining": True,
        "ansible_python_interpreter": "/usr/bin/python3",
    }


def write_inventory(state: str, hosts: dict[str, dict[str, object]]) -> None:
    lines = ["all:", "  hosts:"]
    known = []
    for name, entry in sorted(hosts.items()):
        lines.append("    %s:" % name)
        if "ssh_port" in entry:
            known.append("[127.0.0.1]:%s %s\n" % (entry["ssh_port"], entry["ssh_host_key"]))
            lines += ["      %s: %s" % (k, json.dumps(v)) for k, v in ssh_vars(state, entry).items()]
        else:
            lines += [
                "      ansible_connection: community.docker.nsenter",
                "      ansible_nsenter_pid: %s" % entry["pid"],
                "      ansible_python_interpreter: /usr/bin/python3",
            ]
    with open(os.path.join(state, "inventory.yml"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    if known:
        with open(os.path.join(state, "known_hosts"), "w") as handle:
            handle.writelines(known)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("create", "destroy", "rootfs"))
    parser.add_argument("names", nargs="*")
    parser.add_argument("--state", default=os.path.join(os.getcwd(), ".hosts"))
    parser.add_argument("--packages", default="",
                        help="comma-separated Debian packages to add to the tree (-name: remove that one)")
    parser.add_argument("--host-network", action="store_true",
                        help="share the machine's network (reach its loopback) instead of a private network")
    parser.add_argument("--ssh", action="store_true", help="sshd on a port of its own, a sudo login user, the controller's key")
    parser.add_argument("--ssh-user", default=SSH_USER, help="the non-root login user (default %(default)s)")
    parser.add_argument("--ssh-key", help="the controller's key to authorize (default: made once in the state directory)")
    args = parser.parse_intermixed_args()
    if os.geteuid() != 0:
        sys.exit("nspawn: test hosts need root (systemd-nspawn); run as root")
    packages = [p for p in args.packages.split(",") if p]
    if args.action == "rootfs":
        print(build_variant(packages))
    elif args.action == "create":
        if not args.names:
            parser.error("create needs host names")
        hosts = create(os.path.abspath(args.state), args.names, packages, args.host_network,
                       args.ssh, args.ssh_user, args.ssh_key)
        print(json.dumps({n: h["pid"] for n, h in hosts.items()}))
    else:
        destroy(os.path.abspath(args.state))


if __name__ == "__main__":
    main()
