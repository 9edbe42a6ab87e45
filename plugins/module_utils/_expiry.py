# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Batch expiry report: find certificate files, describe each, decide renewal, summarise.

The typed entry point is :func:`scan`: a :class:`ScanRequest` (built from plain options by
``ScanRequest.from_options``) in, a :class:`ScanResult` out; :func:`require_valid` is the fail
decision.  Used by the ``expiry_info`` module and the host agent.  Read-only.
"""

from __future__ import annotations

import dataclasses
import errno
import fnmatch
import glob
import os
import stat
import typing as t

from . import _x509
from ._clock import clock_state
from ._deps import require
from ._errors import CertificateError, CertsError, InputError
from ._policy import STATUSES, Policy, mark_invalid, worst
from ._time import iso, parse_duration
from ._tls import revocation as _revocation

DEFAULT_PATTERNS = ("*.pem", "*.crt", "*.cer", "*.cert", "*.der")
DEFAULT_EXCLUDES = ("*.key", "privkey*.pem", "*.key.pem", "*-key.pem", "*.csr")
KEY_PARTNERS = {"cert.pem": "privkey.pem", "fullchain.pem": "privkey.pem"}
MAX_FILE_BYTES = 1 << 20
STORE_DIR = ".ghostguard"  # deploy's generation stores live in <dir>/.ghostguard/<name>/


@dataclasses.dataclass
class ScanRequest:
    """What to read, the policy to apply, and whether unreadable or invalid files fail the scan."""

    paths: list[str]
    policy: Policy = dataclasses.field(default_factory=Policy)
    recurse: bool = False
    ignore_missing: bool = False
    patterns: t.Sequence[str] = DEFAULT_PATTERNS
    excludes: t.Sequence[str] = DEFAULT_EXCLUDES
    include_ca: bool = False
    key_match: bool = False
    ca_bundle: str | None = None
    fail_on_invalid: bool = False
    revocation_timeout: float = _revocation.DEFAULT_TIMEOUT
    revocation_cache_dir: str | None = None  # CRLs kept here until their nextUpdate (else for this scan only)

    @classmethod
    def from_options(cls, options: t.Mapping[str, t.Any]) -> ScanRequest:
        """Build from ``expiry_info``'s options (the policy options included); unset keys take the defaults."""
        def opt(name: str, default: t.Any) -> t.Any:
            value = options.get(name)
            return default if value is None else value

        paths = options.get("paths")
        if isinstance(paths, str):
            paths = [paths]
        if paths is None:
            raise InputError("paths is missing; give certificate files, directories or glob patterns to read")
        return cls(
            paths=[str(p) for p in paths],
            policy=Policy.from_options(options),
            recurse=bool(opt("recurse", False)),
            ignore_missing=bool(opt("ignore_missing", False)),
            patterns=list(opt("patterns", DEFAULT_PATTERNS)),
            excludes=list(opt("excludes", DEFAULT_EXCLUDES)),
            include_ca=bool(opt("include_ca", False)),
            key_match=bool(opt("key_match", False)),
            ca_bundle=options.get("ca_bundle"),
            fail_on_invalid=bool(opt("fail_on_invalid", False)),
            revocation_timeout=parse_duration(opt("revocation_timeout", "5"), "revocation_timeout", minimum=1, maximum=120),
            revocation_cache_dir=options.get("revocation_cache_dir") or None,
        )


@dataclasses.dataclass
class ScanResult:
    """The described certificates (soonest expiry first), unreadable files and the host clock."""

    certificates: list[dict[str, t.Any]]
    errors: list[dict[str, t.Any]]
    summary: dict[str, t.Any]
    clock: dict[str, t.Any]
    now: str

    @property
    def due(self) -> list[str]:
        return [d["path"] for d in self.certificates if d["due"]]

    def facts(self) -> dict[str, t.Any]:
        """The ``expiry_info`` return values."""
        return {
            "certificates": self.certificates,
            "due": self.due,
            "summary": self.summary,
            "errors": self.errors,
            "clock": self.clock,
            "now": self.now,
        }


@dataclasses.dataclass
class _Candidate:
    path: str
    explicit: bool  # named directly (not found by a directory walk): always reported


def internal_entry(name: str) -> bool:
    """Entries a directory walk never reads: ``deploy``'s generation stores (``.ghostguard/``) and
    hidden switching entries named ``..<something>`` (``..data`` links, as Kubernetes uses them).
    The service paths beside them (links into the store's current generation) are read instead."""
    return name == STORE_DIR or name.startswith("..")


def _in_store(path: str) -> bool:
    """True when *path* resolves into a generation store (a service path ``deploy`` manages)."""
    return any(internal_entry(part) for part in os.path.realpath(path).split(os.sep))


def _unlisted(path: str, exc: OSError, errors: list[dict[str, t.Any]]) -> None:
    """An unreadable directory is an error, never an empty directory (a clean-looking audit)."""
    errors.append({"path": path, "error": "cannot list directory: %s; certificates in it were not read (run "
                   "with become, or grant read and search access)" % (exc.strerror or exc), "kind": "directory"})


def _walk(root: str, opts: ScanRequest, errors: list[dict[str, t.Any]]) -> t.Iterator[str]:
    if opts.recurse:
        def onerror(exc: OSError) -> None:
            _unlisted(exc.filename or root, exc, errors)

        for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not internal_entry(d))
            for name in sorted(filenames):
                if not internal_entry(name):
                    yield os.path.join(dirpath, name)
    else:
        try:
            names = sorted(os.listdir(root))
        except OSError as exc:
            _unlisted(root, exc, errors)
            return
        for name in names:
            if not internal_entry(name):
                yield os.path.join(root, name)


def _unlistable_dirs_of(pattern: str, errors: list[dict[str, t.Any]]) -> None:
    """A glob silently skips directories it cannot list: report each one the pattern passes through."""
    parent = os.path.dirname(pattern)
    while parent and parent != os.path.dirname(parent):
        for directory in sorted(glob.glob(parent)) if glob.has_magic(parent) else [parent]:
            if os.path.isdir(directory):
                try:
                    os.listdir(directory)
                except OSError as exc:
                    if not any(e["path"] == directory for e in errors):
                        _unlisted(directory, exc, errors)
        parent = os.path.dirname(parent)


def _wanted(path: str, opts: ScanRequest) -> bool:
    base = os.path.basename(path)
    if not any(fnmatch.fnmatch(base, p) for p in opts.patterns):
        return False
    return not any(fnmatch.fnmatch(base, p) for p in opts.excludes)


_Add = t.Callable[[str, bool], None]


def _add_walked(directory: str, opts: ScanRequest, errors: list[dict[str, t.Any]], add: _Add) -> None:
    """The wanted files a walk of *directory* finds (not explicit: a CA or a key among them is skipped)."""
    for path in _walk(directory, opts, errors):
        if _wanted(path, opts):
            add(path, False)


def _add_glob(entry: str, opts: ScanRequest, errors: list[dict[str, t.Any]], add: _Add) -> None:
    """A glob pattern: its files (explicit) and the walks of its directories; unlistable directories and (unless
    ``ignore_missing``) a pattern that matches nothing are errors."""
    matches = sorted(glob.glob(entry, recursive=opts.recurse))
    _unlistable_dirs_of(entry, errors)
    if not matches and not opts.ignore_missing:
        errors.append({"path": entry, "error": "no file matches this pattern"})
    for match in matches:
        if os.path.isdir(match):
            _add_walked(match, opts, errors, add)
        else:
            add(match, True)


def _add_file(entry: str, opts: ScanRequest, errors: list[dict[str, t.Any]], add: _Add) -> None:
    """A path named directly: added when it exists (even a broken link: reading it reports why)."""
    try:
        os.lstat(entry)
    except FileNotFoundError:
        if not opts.ignore_missing:
            errors.append({"path": entry, "error": "no such file or directory"})
    except OSError as exc:
        errors.append({"path": entry, "error": "cannot reach: %s" % (exc.strerror or exc)})
    else:
        add(entry, True)


def find_candidates(opts: ScanRequest, errors: list[dict[str, t.Any]]) -> list[_Candidate]:
    """The files a scan reads, each once, in the order of ``opts.paths``; what cannot be reached goes to *errors*."""
    seen: set[str] = set()
    out: list[_Candidate] = []

    def add(path: str, explicit: bool) -> None:
        path = os.path.normpath(path)
        if path not in seen:
            seen.add(path)
            out.append(_Candidate(path, explicit))

    for raw in opts.paths:
        entry = os.path.expanduser(str(raw))
        if glob.has_magic(entry):
            _add_glob(entry, opts, errors, add)
        elif os.path.isdir(entry):
            _add_walked(entry, opts, errors, add)
        else:
            _add_file(entry, opts, errors, add)
    return out


def _read(path: str) -> bytes:
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CertificateError("symlink loop: %s leads back to itself (too many levels of symbolic links); "
                                   "point it at the certificate file" % path) from None
        if exc.errno == errno.ENOENT and os.path.islink(path):
            raise CertificateError("broken symlink (points to %s, which does not exist)" % os.readlink(path)) from None
        raise
    if not stat.S_ISREG(info.st_mode):
        raise CertificateError("not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise CertificateError("file is %d bytes, larger than any certificate bundle (1 MiB limit)" % info.st_size)
    with open(path, "rb") as handle:
        return handle.read()


def key_candidates(cert_path: str) -> list[str]:
    """Where a certificate's private key is usually kept: ``privkey.pem`` beside ``cert.pem`` /
    ``fullchain.pem`` (certbot), else the same stem with ``.key`` (``site.crt`` -> ``site.key``)."""
    directory, base = os.path.split(cert_path)
    stem = os.path.splitext(base)[0]
    names = []
    if base in KEY_PARTNERS:
        names.append(KEY_PARTNERS[base])
    names += [stem + ".key", stem + ".key.pem", stem + "-key.pem"]
    return [os.path.join(directory, n) for n in names]


def _check_key(cert: t.Any, cert_path: str, desc: dict[str, t.Any]) -> None:
    for candidate in key_candidates(cert_path):
        if not os.path.exists(candidate):
            continue
        desc["key_path"] = candidate
        try:
            with open(candidate, "rb") as handle:
                key = _x509.load_private_key(handle.read(), candidate)
        except OSError as exc:
            desc["key_match"] = None
            desc["key_error"] = "cannot read %s: %s" % (candidate, exc.strerror)
            return
        except CertificateError as exc:
            desc["key_match"] = False
            desc["key_error"] = str(exc)
            mark_invalid(desc, "key_unreadable")
            return
        desc["key_match"] = _x509.public_key_matches(cert, key)
        if not desc["key_match"]:
            desc["key_error"] = "private key %s does not belong to this certificate" % candidate
            mark_invalid(desc, "key_mismatch")
        return
    desc["key_path"] = None
    desc["key_match"] = None


def scan(opts: ScanRequest) -> ScanResult:
    """Describe every certificate under ``opts.paths`` with ``opts.policy``: the typed entry point."""
    require("cryptography")
    policy = opts.policy
    errors: list[dict[str, t.Any]] = []
    roots = _x509.load_ca_file(opts.ca_bundle) if opts.ca_bundle else None
    certificates: list[dict[str, t.Any]] = []
    checker = _revocation.RevocationChecker(opts.revocation_timeout, opts.revocation_cache_dir,
                                            roots) if policy.revocation_check else None
    for cand in find_candidates(opts, errors):
        try:
            data = _read(cand.path)
            if not cand.explicit and (_x509.looks_like_private_key_only(data) or (not data.strip() and _in_store(cand.path))):
                continue  # a key, or deploy's empty chain file (a certificate without intermediates), found by a walk
            certs, fmt = _x509.load_certificates(data, "this file")
        except OSError as exc:
            errors.append({"path": cand.path, "error": "cannot read: %s" % (exc.strerror or exc)})
            continue
        except CertsError as exc:
            errors.append({"path": cand.path, "error": str(exc)})
            continue
        leaf, chain = certs[0], certs[1:]
        if not cand.explicit and not opts.include_ca and _x509.is_ca(leaf):
            continue
        desc = _x509.describe(leaf, cand.path, policy)
        desc["format"] = fmt
        desc["chain"] = [_chain_entry(c, policy) for c in chain]
        _served_status(desc, certs)
        if opts.key_match:
            _check_key(leaf, cand.path, desc)
        if roots is not None:
            problem = _x509.verify_chain(leaf, chain, roots, policy.now)
            desc["chain_valid"] = problem is None
            if problem:
                desc["chain_error"] = "; ".join(filter(None, (desc.get("chain_error"), problem)))
                mark_invalid(desc, "chain_invalid")
        if checker is not None:
            checker.apply(desc, leaf, chain, cand.path)
        certificates.append(desc)
    certificates.sort(key=lambda d: (d["seconds_remaining"], d["path"]))
    return ScanResult(certificates=certificates, errors=errors, summary=summarise(certificates, errors),
                      clock=clock_state(), now=iso(policy.now))


def require_valid(request: ScanRequest, result: ScanResult) -> None:
    """The fail decision: with ``fail_on_invalid``, raise :class:`CertificateError` (carrying the
    result's facts) when a file is unreadable or corrupt, or a certificate is ``invalid``."""
    if not request.fail_on_invalid:
        return
    bad = [e["path"] for e in result.errors]
    bad += [c["path"] for c in result.certificates if c["status"] == "invalid"]
    if bad:
        raise CertificateError(
            "%d certificate file(s) or directories are unreadable, corrupt or invalid: %s; see 'errors' and each "
            "certificate's 'reasons'" % (len(bad), ", ".join(bad[:10]) + (" ..." if len(bad) > 10 else "")),
            **result.facts(),
        )


def _chain_entry(cert: t.Any, policy: Policy) -> dict[str, t.Any]:
    desc = _x509.describe(cert, None, policy)
    # A CA certificate is not renewed by renew_before/renew_fraction (status ``due`` does not apply);
    # its own validity counts: expired, not yet valid, or critical within alert_before.
    if desc["status"] == "due":
        desc["status"] = "ok"
    desc["due"] = desc["status"] != "ok"
    desc["reasons"] = [r for r in desc["reasons"] if r in ("expired", "not_yet_valid", "alert_window")
                       and desc["status"] != "ok"]
    return desc


def _served_status(desc: dict[str, t.Any], certs: list[t.Any]) -> None:
    """The status of a file is the worst of what a client is served: the leaf and every chain certificate.

    An expired (or critical, or not yet valid) intermediate makes the file so, with reason
    ``chain_<status>``.  A second leaf (a certificate that is no CA, not self-issued and issued
    nothing in the file) makes it ``invalid`` with reason ``second_leaf`` and a ``chain_error``.
    """
    for index, (cert, entry) in enumerate(zip(certs[1:], desc["chain"]), start=2):
        if entry["status"] != "ok" and STATUSES.index(entry["status"]) < STATUSES.index(desc["status"]):
            desc["status"], desc["due"] = entry["status"], True
        if entry["status"] != "ok" and "chain_" + entry["status"] not in desc["reasons"]:
            desc["reasons"].append("chain_" + entry["status"])
        if not _x509.is_ca(cert) and cert.subject != cert.issuer and not any(
                other.issuer == cert.subject for other in certs if other is not cert):
            problem = ("certificate #%d (%s, not after %s, %s) is a second leaf certificate, not a CA of this chain: "
                       "clients are served it as a chain certificate; keep one leaf per file"
                       % (index, entry["subject"], entry["not_after"], entry["status"]))
            desc["chain_error"] = "; ".join(filter(None, (desc.get("chain_error"), problem)))
            mark_invalid(desc, "second_leaf")


def summarise(certificates: list[dict[str, t.Any]], errors: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    counts = {status: 0 for status in STATUSES}
    for desc in certificates:
        counts[desc["status"]] += 1
    soonest = certificates[0] if certificates else None
    return {
        "total": len(certificates),
        "counts": counts,
        "due": sum(1 for d in certificates if d["due"]),
        "errors": len(errors),
        "worst": worst(d["status"] for d in certificates),
        "soonest": None if soonest is None else {
            "path": soonest["path"],
            "subject": soonest["subject"],
            "not_after": soonest["not_after"],
            "seconds_remaining": soonest["seconds_remaining"],
            "status": soonest["status"],
        },
    }
