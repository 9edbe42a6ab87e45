# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""DNS-01 through RFC 2136 dynamic updates signed with TSIG (BIND, Knot, PowerDNS...)."""

from __future__ import annotations

import dataclasses
import time

from .._deps import require
from .._errors import DNSProviderError, InputError
from .base import DNSProvider, TxtRecord, spec
from .zone import Lookup, parse_server

try:
    import dns.exception
    import dns.name
    import dns.query
    import dns.rcode
    import dns.tsig
    import dns.tsigkeyring
    import dns.update
except ImportError:  # pragma: no cover - Rfc2136Provider() reports it through _deps.require
    pass

ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5")


@dataclasses.dataclass(frozen=True)
class Rfc2136Settings:
    """The ``rfc2136`` option of ``acme_dns01`` (and of ``certwatch_dns``); the defaults are the documented ones."""

    server: str = dataclasses.field(default="", metadata=spec("str", required=True))
    port: int | None = dataclasses.field(default=None, metadata=spec("int"))  # overrides server's port; else 53
    key_name: str | None = dataclasses.field(default=None, metadata=spec("str", no_log=False))
    key_secret: str | None = dataclasses.field(default=None, repr=False, metadata=spec("str", no_log=True))
    key_algorithm: str = dataclasses.field(default="hmac-sha256", metadata=spec("str", choices=ALGORITHMS, no_log=False))
    zone: str | None = dataclasses.field(default=None, metadata=spec("str"))
    ttl: int = dataclasses.field(default=60, metadata=spec("int"))


class Rfc2136Provider(DNSProvider):
    NAME = "rfc2136"
    SETTINGS = Rfc2136Settings
    LIBRARIES = ("dnspython",)

    def __init__(self, settings: Rfc2136Settings, deadline: float | None = None, timeout: float = 10.0) -> None:
        require(*self.LIBRARIES)
        if not settings.server:
            raise InputError("rfc2136.server is required: the primary DNS server that accepts dynamic updates")
        self.server = parse_server(settings.server, settings.port or 53)
        if settings.port:
            self.server = type(self.server)(self.server.host, settings.port)
        self.zone = (settings.zone or "").rstrip(".").lower() or None
        self.ttl = settings.ttl
        self.deadline = deadline
        self.timeout = timeout
        self.key_name = settings.key_name
        algorithm = settings.key_algorithm.lower()
        if algorithm not in ALGORITHMS:
            raise InputError("rfc2136.key_algorithm %r is not one of %s" % (algorithm, ", ".join(ALGORITHMS)))
        self.algorithm = algorithm
        self.keyring = None
        if self.key_name:
            if not settings.key_secret:
                raise InputError("rfc2136.key_secret is required with rfc2136.key_name")
            try:
                self.keyring = dns.tsigkeyring.from_text({self.key_name: settings.key_secret})
            except Exception:
                raise InputError("rfc2136.key_secret for key %s is not valid base64 (as tsig-keygen prints it)"
                                 % self.key_name) from None
        self.lookup = Lookup([str(self.server)], timeout=3.0)

    def zone_for(self, fqdn: str) -> str:
        if self.zone:
            if not dns.name.from_text(fqdn).is_subdomain(dns.name.from_text(self.zone)):
                raise InputError("%s is not inside rfc2136.zone %s; fix the zone or the CNAME" % (fqdn, self.zone))
            return self.zone
        return self.lookup.zone_for(fqdn)

    def _send(self, zone: str, fqdn: str, value: str, add: bool) -> None:
        keyname = dns.name.from_text(self.key_name) if self.keyring and self.key_name else None
        update = dns.update.UpdateMessage(zone, keyring=self.keyring, keyname=keyname,
                                          keyalgorithm=self.algorithm if self.keyring else dns.tsig.default_algorithm)
        rdata = '"%s"' % value
        if add:
            update.add(dns.name.from_text(fqdn), self.ttl, "TXT", rdata)
        else:
            update.delete(dns.name.from_text(fqdn), "TXT", rdata)
        action = "add" if add else "remove"
        timeout = self.timeout
        if add and self.deadline is not None:  # cleanup (remove) may outlive the deadline, an add may not
            timeout = max(1.0, min(timeout, self.deadline - time.monotonic()))
        try:
            response = dns.query.tcp(update, self.server.host, port=self.server.port, timeout=timeout)
        except dns.tsig.PeerError as exc:
            raise DNSProviderError(
                "DNS server %s rejected the TSIG signature of key %s (%s) when asked to %s TXT %s; check "
                "rfc2136.key_name, key_secret and key_algorithm" % (self.server, self.key_name, exc.__class__.__name__,
                                                                    action, fqdn), name=fqdn) from None
        except (dns.exception.DNSException, OSError) as exc:
            raise DNSProviderError(
                "DNS server %s did not take the update to %s TXT %s (%s); check rfc2136.server and port"
                % (self.server, action, fqdn, exc or exc.__class__.__name__), name=fqdn) from None
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            hint = {
                dns.rcode.REFUSED: "the server refused it: allow updates to zone %s for key %s" % (zone, self.key_name),
                dns.rcode.NOTAUTH: "the server is not authoritative for %s or rejected key %s" % (zone, self.key_name),
                dns.rcode.NOTZONE: "%s is not in zone %s" % (fqdn, zone),
            }.get(rcode, "check the server's log")
            raise DNSProviderError("DNS server %s answered %s to the update to %s TXT %s: %s"
                                   % (self.server, dns.rcode.to_text(rcode), action, fqdn, hint), name=fqdn)

    def add_txt(self, fqdn: str, value: str) -> TxtRecord:
        zone = self.zone_for(fqdn)
        self._send(zone, fqdn, value, add=True)
        return TxtRecord(fqdn=fqdn, value=value, zone=zone)

    def remove_txt(self, record: TxtRecord) -> None:
        self._send(record.zone, record.fqdn, record.value, add=False)
