# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""DNS-01 through RFC 2136 dynamic updates signed with TSIG (BIND, Knot, PowerDNS...)."""

from __future__ import annotations

import typing as t

from .._errors import DNSProviderError, InputError
from .base import DNSProvider, TxtRecord
from .zone import HAS_DNSPYTHON, Lookup, parse_server

try:
    import dns.exception
    import dns.name
    import dns.query
    import dns.rcode
    import dns.tsig
    import dns.tsigkeyring
    import dns.update
except ImportError:  # pragma: no cover - HAS_DNSPYTHON from .zone tells
    pass

ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5")


class Rfc2136Provider(DNSProvider):
    NAME = "rfc2136"

    def __init__(self, settings: t.Mapping[str, t.Any], ttl: int = 60, timeout: float = 10.0) -> None:
        if not HAS_DNSPYTHON:
            raise DNSProviderError("the Python library dnspython is missing; install dnspython")
        if not settings.get("server"):
            raise InputError("rfc2136.server is required: the primary DNS server that accepts dynamic updates")
        self.server = parse_server(settings["server"], int(settings.get("port") or 53))
        if settings.get("port"):
            self.server = type(self.server)(self.server.host, int(settings["port"]))
        self.zone = (settings.get("zone") or "").rstrip(".").lower() or None
        self.ttl = int(settings.get("ttl") or ttl)
        self.timeout = timeout
        self.key_name = settings.get("key_name")
        algorithm = (settings.get("key_algorithm") or "hmac-sha256").lower()
        if algorithm not in ALGORITHMS:
            raise InputError("rfc2136.key_algorithm %r is not one of %s" % (algorithm, ", ".join(ALGORITHMS)))
        self.algorithm = algorithm
        self.keyring = None
        if self.key_name:
            if not settings.get("key_secret"):
                raise InputError("rfc2136.key_secret is required with rfc2136.key_name")
            try:
                self.keyring = dns.tsigkeyring.from_text({self.key_name: settings["key_secret"]})
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
        update = dns.update.UpdateMessage(zone, keyring=self.keyring, keyname=self.key_name,
                                          keyalgorithm=self.algorithm if self.keyring else dns.tsig.default_algorithm)
        rdata = '"%s"' % value
        if add:
            update.add(dns.name.from_text(fqdn), self.ttl, "TXT", rdata)
        else:
            update.delete(dns.name.from_text(fqdn), "TXT", rdata)
        action = "add" if add else "remove"
        try:
            response = dns.query.tcp(update, self.server.host, port=self.server.port, timeout=self.timeout)
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
