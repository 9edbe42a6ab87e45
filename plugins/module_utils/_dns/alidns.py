# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""DNS-01 through Alibaba Cloud DNS (Alidns, API 2015-01-09) with the aliyun Python SDK.

HTTPS by default (the SDK's own default is plain HTTP).  The zone is found by paging
DescribeDomains; Throttling.User and 5xx answers are retried with backoff (the SDK does not retry
Alidns calls).  Records are removed by the RecordId this run got back, so values written by
someone else on the same name are never touched.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
import typing as t

from .._deps import require
from .._errors import DNSProviderError, InputError
from .base import DNSProvider, TxtRecord, spec

try:
    from aliyunsdkalidns.request.v20150109 import (
        AddDomainRecordRequest,
        DeleteDomainRecordRequest,
        DescribeDomainsRequest,
        DescribeSubDomainRecordsRequest,
    )
    from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
    from aliyunsdkcore.client import AcsClient
except ImportError:  # pragma: no cover - AlidnsProvider() reports it through _deps.require
    pass
else:
    # The SDK logs every server error with logger.error; keep that out of module output.
    logging.getLogger("aliyunsdkcore").addHandler(logging.NullHandler())
    logging.getLogger("aliyunsdkcore").propagate = False

DOMAIN_PAGE = 100
RETRYABLE_CODES = frozenset({"Throttling.User", "Throttling", "Throttling.Api", "ServiceUnavailable", "InternalError",
                             "UnknownError", "SDK.HttpError", "SDK.ServerUnreachable"})
HINTS = {
    "InvalidAccessKeyId.NotFound": "the access key id does not exist; check alidns.access_key_id",
    "InvalidAccessKeySecret": "the access key secret does not belong to this key id; check alidns.access_key_secret",
    "SignatureDoesNotMatch": "the request signature is wrong; check alidns.access_key_secret",
    "InvalidTimeStamp.Expired": "this host's clock is off by more than 15 minutes; fix time synchronisation",
    "SignatureNonceUsed": "a signature nonce was reused; retry the task",
    "Forbidden.RAM": "the RAM user lacks the Alidns (云解析 DNS) permission AliyunDNSFullAccess or an equivalent policy",
    "InvalidDomainName.NoExist": "the domain is not in this Alidns account; add it or use the account that holds it",
    "Throttling.User": "Alidns throttled the account; retry later or run fewer renewals at once",
}


@dataclasses.dataclass(frozen=True)
class AlidnsSettings:
    """The ``alidns`` option of ``acme_dns01`` (and of ``certwatch_dns``); the defaults are the documented ones."""

    access_key_id: str = dataclasses.field(default="", metadata=spec("str", required=True, no_log=False))
    access_key_secret: str = dataclasses.field(default="", repr=False, metadata=spec("str", required=True, no_log=True))
    region: str = dataclasses.field(default="cn-hangzhou", metadata=spec("str"))
    endpoint: str = dataclasses.field(default="alidns.aliyuncs.com", metadata=spec("str"))
    protocol: str = dataclasses.field(default="https", metadata=spec("str", choices=("https", "http")))
    ttl: int = dataclasses.field(default=600, metadata=spec("int"))  # the minimum on the free and personal editions


class AlidnsProvider(DNSProvider):
    NAME = "alidns"
    SETTINGS = AlidnsSettings
    LIBRARIES = ("aliyun",)

    def __init__(self, settings: AlidnsSettings, deadline: float | None = None, max_attempts: int = 8) -> None:
        require(*self.LIBRARIES)
        self.key_id = settings.access_key_id or ""
        secret = settings.access_key_secret or ""
        if not self.key_id or not secret:
            raise InputError("alidns.access_key_id and alidns.access_key_secret are required for dns_provider=alidns")
        self.region = settings.region
        self.endpoint = settings.endpoint
        self.protocol = settings.protocol.lower()
        if self.protocol not in ("https", "http"):
            raise InputError("alidns.protocol must be https or http")
        self.ttl = settings.ttl
        self.deadline = deadline
        self.max_attempts = max_attempts
        self.client = AcsClient(self.key_id, secret, self.region, auto_retry=False, timeout=15, connect_timeout=5)
        self._domains: list[str] | None = None
        self.calls = 0

    # ------------------------------------------------------------------ API plumbing

    def _call(self, request: t.Any, what: str, cleanup: bool = False) -> dict[str, t.Any]:
        request.set_endpoint(self.endpoint)
        request.set_protocol_type(self.protocol)
        request.set_accept_format("json")
        delay = 0.2
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            try:
                raw = self.client.do_action_with_exception(request)
                data: dict[str, t.Any] = json.loads(raw)
                return data
            except ServerException as exc:
                code, message, status = exc.get_error_code(), exc.get_error_msg(), exc.get_http_status()
                retryable = code in RETRYABLE_CODES or (status is not None and int(status) >= 500)
                if not retryable or not self._may_retry(attempt, delay, cleanup):
                    raise self._error(what, code, message, status, exc.get_request_id()) from None
            except ClientException as exc:
                code, message = exc.get_error_code(), exc.get_error_msg()
                if code not in RETRYABLE_CODES or not self._may_retry(attempt, delay, cleanup):
                    raise self._error(what, code, message, None, None) from None
            except (IndexError, ValueError) as exc:  # the SDK's IndexError on odd error messages, bad JSON
                raise DNSProviderError("Alidns %s with access key id %s returned an answer the SDK could not read "
                                       "(%s); check alidns.endpoint" % (what, self.key_id, exc.__class__.__name__)) from None
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5.0)

    def _may_retry(self, attempt: int, delay: float, cleanup: bool) -> bool:
        if attempt >= self.max_attempts:
            return False
        # Cleanup may outlive the overall deadline: a TXT record left behind is worse than a late failure.
        return cleanup or not (self.deadline is not None and time.monotonic() + delay > self.deadline)

    def _error(self, what: str, code: str, message: str, status: t.Any, request_id: t.Any) -> DNSProviderError:
        hint = HINTS.get(code, "see the Alidns error code documentation")
        text = "Alidns %s failed for access key id %s: %s (%s)%s; %s" % (
            what, self.key_id, code, (message or "").split(" server string to sign")[0].strip(),
            " RequestId %s" % request_id if request_id else "", hint)
        return DNSProviderError(text, provider_code=code, http_status=status, access_key_id=self.key_id)

    # ------------------------------------------------------------------ zones and records

    def domains(self) -> list[str]:
        if self._domains is None:
            names: list[str] = []
            page = 1
            while True:
                req = DescribeDomainsRequest.DescribeDomainsRequest()
                req.set_PageNumber(page)
                req.set_PageSize(DOMAIN_PAGE)
                data = self._call(req, "DescribeDomains (page %d)" % page)
                batch = data.get("Domains", {}).get("Domain", [])
                names += [str(d["DomainName"]).lower().rstrip(".") for d in batch]
                if not batch or len(names) >= int(data.get("TotalCount", 0)):
                    break
                page += 1
            self._domains = names
        return self._domains

    def zone_for(self, fqdn: str) -> str:
        name = fqdn.lower().rstrip(".")
        matches = [d for d in self.domains() if name == d or name.endswith("." + d)]
        if not matches:
            raise DNSProviderError(
                "no domain of Alidns access key id %s holds %s (the account has %d domains); add the domain to "
                "Alidns, use the account that holds it, or delegate _acme-challenge with a CNAME into a domain it holds"
                % (self.key_id, name, len(self.domains())), name=name, access_key_id=self.key_id)
        return max(matches, key=len)

    def add_txt(self, fqdn: str, value: str) -> TxtRecord:
        zone = self.zone_for(fqdn)
        rr = fqdn[: -len(zone) - 1] if fqdn != zone else "@"
        req = AddDomainRecordRequest.AddDomainRecordRequest()
        req.set_DomainName(zone)
        req.set_RR(rr)
        req.set_Type("TXT")
        req.set_Value(value)
        req.set_TTL(self.ttl)
        try:
            data = self._call(req, "AddDomainRecord for %s" % fqdn)
        except DNSProviderError as exc:
            if exc.details.get("provider_code") != "DomainRecordDuplicate":
                raise
            # A retried AddDomainRecord that had succeeded: the value is this run's unique token.
            record_id = self._find(fqdn, value)
            if record_id is None:
                raise
            return TxtRecord(fqdn=fqdn, value=value, zone=zone, handle=record_id)
        return TxtRecord(fqdn=fqdn, value=value, zone=zone, handle=str(data["RecordId"]))

    def _find(self, fqdn: str, value: str) -> str | None:
        page = 1
        while True:
            req = DescribeSubDomainRecordsRequest.DescribeSubDomainRecordsRequest()
            req.set_SubDomain(fqdn)
            req.set_Type("TXT")
            req.set_PageNumber(page)
            req.set_PageSize(500)
            data = self._call(req, "DescribeSubDomainRecords for %s" % fqdn)
            records = data.get("DomainRecords", {}).get("Record", [])
            for rec in records:
                if rec.get("Value") == value:
                    return str(rec["RecordId"])
            if not records or page * 500 >= int(data.get("TotalCount", 0)):
                return None
            page += 1

    def remove_txt(self, record: TxtRecord) -> None:
        if record.handle is None:
            return
        req = DeleteDomainRecordRequest.DeleteDomainRecordRequest()
        req.set_RecordId(record.handle)
        try:
            self._call(req, "DeleteDomainRecord for %s" % record.fqdn, cleanup=True)
        except DNSProviderError as exc:
            if exc.details.get("provider_code") == "DomainRecordNotBelongToUser":
                return  # already gone (a retried delete that had succeeded)
            raise
