# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""DNS lookups for DNS-01: challenge names, CNAME following, zone discovery, authoritative servers.

With ``nameservers`` (``host[:port]`` strings) every question goes to those servers without
recursion (they are expected to be authoritative, as in a split-horizon or test setup); without
them the system resolver finds zones and NS records, and the authoritative servers are asked
directly.
"""

from __future__ import annotations

import dataclasses
import typing as t

from .._deps import require
from .._errors import DNSProviderError, InputError

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdatatype
    import dns.resolver
except ImportError:  # pragma: no cover - Lookup() reports it through _deps.require
    pass

MAX_CNAME_HOPS = 8


@dataclasses.dataclass(frozen=True)
class Server:
    host: str
    port: int = 53

    def __str__(self) -> str:
        return ("[%s]:%d" % (self.host, self.port)) if ":" in self.host else "%s:%d" % (self.host, self.port)


def parse_server(text: str, default_port: int = 53) -> Server:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address."""
    value = str(text).strip()
    if not value:
        raise InputError("an empty nameserver entry was given; use host or host:port")
    if value.startswith("["):
        host, _sep, rest = value[1:].partition("]")
        port = rest.lstrip(":") or str(default_port)
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, str(default_port)
    try:
        number = int(port)
    except ValueError:
        raise InputError("nameserver %r has a bad port; use host:port such as 192.0.2.53:53" % text) from None
    if not 0 < number < 65536:
        raise InputError("nameserver %r has a port outside 1-65535" % text)
    return Server(host, number)


def challenge_name(name: str) -> str:
    """``_acme-challenge.`` + the name without a leading ``*.`` (RFC 8555 section 8.4)."""
    base = name[2:] if name.startswith("*.") else name
    return "_acme-challenge." + base.rstrip(".").lower()


class Lookup:
    """Ask the given servers (no recursion) or the system resolver."""

    def __init__(self, nameservers: t.Sequence[str] | None = None, timeout: float = 3.0) -> None:
        require("dnspython")
        self.servers = [parse_server(s) for s in (nameservers or [])]
        self.timeout = timeout

    def ask(self, server: Server, name: str, rdtype: str) -> dns.message.Message:
        """One question to one server, without recursion; TCP when the UDP answer is truncated."""
        query = dns.message.make_query(name, rdtype)
        query.flags &= ~dns.flags.RD
        try:
            response = dns.query.udp(query, server.host, port=server.port, timeout=self.timeout)
            if response.flags & dns.flags.TC:
                response = dns.query.tcp(query, server.host, port=server.port, timeout=self.timeout)
        except (dns.exception.DNSException, OSError) as exc:
            raise DNSProviderError(
                "DNS server %s did not answer a %s query for %s (%s); check that it is reachable from this host"
                % (server, rdtype, name, exc.__class__.__name__ if not str(exc) else exc), server=str(server)
            ) from None
        return response

    def _ask_any(self, name: str, rdtype: str) -> dns.message.Message:
        last: DNSProviderError | None = None
        for server in self.servers:
            try:
                return self.ask(server, name, rdtype)
            except DNSProviderError as exc:
                last = exc
        if last is None:
            raise InputError("no nameservers to ask; give nameservers as host or host:port")
        raise last

    # ------------------------------------------------------------------ CNAME following

    def follow_cname(self, name: str) -> str:
        """The final target of a CNAME chain starting at *name* (or *name* itself)."""
        current = name.rstrip(".").lower()
        seen = [current]
        for _hop in range(MAX_CNAME_HOPS):
            target = self._cname_of(current)
            if target is None:
                return current
            if target in seen:
                raise InputError("CNAME loop at %s (%s); fix the DNS records" % (name, " -> ".join([*seen, target])))
            seen.append(target)
            current = target
        raise InputError("more than %d CNAME hops from %s; shorten the chain" % (MAX_CNAME_HOPS, name))

    def _cname_of(self, name: str) -> str | None:
        if self.servers:
            response = self._ask_any(name, "CNAME")
            qname = dns.name.from_text(name)
            for rrset in response.answer:
                if rrset.name == qname and rrset.rdtype == dns.rdatatype.CNAME:
                    return str(rrset[0].target).rstrip(".").lower()
            return None
        try:
            answer = dns.resolver.resolve(name, "CNAME", raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers, dns.exception.Timeout):
            return None
        if answer.rrset is None:
            return None
        return str(answer.rrset[0].target).rstrip(".").lower()

    # ------------------------------------------------------------------ zones

    def zone_for(self, name: str) -> str:
        """The zone (SOA owner) that holds *name*."""
        if not self.servers:
            try:
                return str(dns.resolver.zone_for_name(name)).rstrip(".").lower()
            except dns.exception.DNSException as exc:
                raise DNSProviderError("cannot find the DNS zone of %s (%s); set nameservers or the provider's zone"
                                       % (name, exc)) from None
        candidate = dns.name.from_text(name)
        while True:
            response = self._ask_any(str(candidate), "SOA")
            for section in (response.answer, response.authority):
                for rrset in section:
                    if rrset.rdtype == dns.rdatatype.SOA and candidate.is_subdomain(rrset.name):
                        return str(rrset.name).rstrip(".").lower()
            if candidate == dns.name.root or len(candidate.labels) <= 2:
                break
            candidate = candidate.parent()
        raise DNSProviderError("no DNS server in %s is authoritative for %s (no SOA found); check nameservers"
                               % (", ".join(str(s) for s in self.servers), name))

    def authoritative_servers(self, zone: str) -> list[Server]:
        """Servers to poll for propagation: ``nameservers`` when given, else the zone's NS hosts."""
        if self.servers:
            return list(self.servers)
        servers: list[Server] = []
        try:
            ns_answer = dns.resolver.resolve(zone, "NS")
            for ns in ns_answer:
                host = str(ns.target)
                for rdtype in ("A", "AAAA"):
                    try:
                        for addr in dns.resolver.resolve(host, rdtype):
                            servers.append(Server(addr.to_text()))
                    except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                        continue
        except dns.exception.DNSException as exc:
            raise DNSProviderError("cannot find the authoritative servers of %s (%s); set nameservers" % (zone, exc)) from None
        if not servers:
            raise DNSProviderError("zone %s has no reachable NS addresses; set nameservers" % zone)
        return servers

    def txt_values(self, server: Server, name: str) -> set[str]:
        response = self.ask(server, name, "TXT")
        values: set[str] = set()
        qname = dns.name.from_text(name)
        for rrset in response.answer:
            if rrset.name == qname and rrset.rdtype == dns.rdatatype.TXT:
                for rdata in rrset:
                    values.add(b"".join(rdata.strings).decode("ascii", "replace"))
        return values
