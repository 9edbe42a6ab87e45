# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stand-in for the Alibaba Cloud DNS (Alidns) API 2015-01-09, RPC style, for the lab.

It checks what the real API checks (HMAC-SHA1 signature over the canonical query, the signature
nonce, the timestamp, the access key id), answers with the real JSON shapes and error codes, pages
like the real API, and writes every record change into BIND by RFC 2136 (TSIG) so that Pebble
validates exactly what the Alidns path wrote.

Usage: ``python alidns_standin.py CONFIG.json`` (the lab writes the config).  A JSON control
file (path in the config) is re-read on every request: ``{"throttle_rate": 0.3, "error_rate": 0.1,
"hide_from_dns": false, "delay": {"AddDomainRecord": 2}}``.  Counts per action are written to the stats file.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import typing as t
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dns.name
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update

MAX_DOMAIN_PAGE = 100
MAX_RECORD_PAGE = 500
TIMESTAMP_WINDOW = 15 * 60


def pct(value: str) -> str:
    return urllib.parse.quote(value, safe="-_.~")


def string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join("%s=%s" % (pct(k), pct(v)) for k, v in sorted(params.items()) if k != "Signature")
    return method + "&%2F&" + pct(canonical)


def sign(secret: str, text: str) -> str:
    digest = hmac.new((secret + "&").encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class State:
    def __init__(self, conf: dict[str, t.Any]) -> None:
        self.conf = conf
        self.lock = threading.Lock()
        self.dump_lock = threading.Lock()
        self.nonces: set[str] = set()
        self.records: dict[str, dict[str, t.Any]] = {}
        self.next_id = 100000000000000
        self.stats: dict[str, int] = {}
        self.accumulators: dict[str, float] = {}
        self.domains = [
            {"DomainName": d, "DomainId": str(uuid.uuid5(uuid.NAMESPACE_DNS, d)), "RecordCount": 0,
             "AliDomain": False, "VersionCode": "mianfei", "PunyCode": d, "CreateTimestamp": 1700000000000}
            for d in conf["domains"]
        ]
        self.keyring = dns.tsigkeyring.from_text({conf["tsig_name"]: conf["tsig_secret"]})

    def inject(self, kind: str, rate: float) -> bool:
        """Deterministic share *rate* of calls (error diffusion: exactly 3 in 10 at 0.3, no luck involved)."""
        if rate <= 0:
            return False
        with self.lock:
            self.accumulators[kind] = self.accumulators.get(kind, 0.0) + rate
            if self.accumulators[kind] >= 1.0:
                self.accumulators[kind] -= 1.0
                return True
        return False

    def control(self) -> dict[str, t.Any]:
        try:
            with open(self.conf["control_file"]) as handle:
                data: dict[str, t.Any] = json.load(handle)
                return data
        except (OSError, ValueError):
            return {"throttle_rate": self.conf.get("throttle_rate", 0.0)}

    def count(self, key: str) -> None:
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + 1
        self.dump()

    def dump(self) -> None:
        # one writer at a time, each writing the state as it is when it writes (never an older snapshot last)
        with self.dump_lock:
            with self.lock:
                data = json.dumps({"counts": self.stats, "records": list(self.records.values())})
            tmp = "%s.tmp" % self.conf["stats_file"]
            with open(tmp, "w") as handle:
                handle.write(data)
            os.replace(tmp, self.conf["stats_file"])

    # ----------------------------------------------------------------- DNS side

    def nsupdate(self, domain: str, rr: str, rtype: str, value: str, ttl: int, add: bool) -> None:
        if domain not in self.conf["bind_zones"]:
            return
        if self.control().get("hide_from_dns"):
            return
        update = dns.update.UpdateMessage(domain, keyring=self.keyring, keyalgorithm="hmac-sha256")
        owner = dns.name.from_text(rr if rr != "@" else "@", origin=dns.name.from_text(domain))
        rdata = '"%s"' % value if rtype == "TXT" else value
        if add:
            update.add(owner, ttl, rtype, rdata)
        else:
            update.delete(owner, rtype, rdata)
        response = dns.query.tcp(update, self.conf["dns_server"], port=int(self.conf["dns_port"]), timeout=5)
        if response.rcode() != dns.rcode.NOERROR:
            raise ApiError(500, "InternalError", "backend DNS update failed: %s" % dns.rcode.to_text(response.rcode()))


class Handler(BaseHTTPRequestHandler):
    server_version = "Tengine"
    state: State

    def log_message(self, format: str, *args: t.Any) -> None:
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), format % args))

    def do_GET(self) -> None:
        self.handle_api("GET")

    def do_POST(self) -> None:
        self.handle_api("POST")

    def handle_api(self, method: str) -> None:
        request_id = str(uuid.uuid4()).upper()
        parsed = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length).decode()
            if "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
                params.update(urllib.parse.parse_qsl(body, keep_blank_values=True))
        action = params.get("Action", "")
        try:
            self.authenticate(method, params)
            control = self.state.control()
            if self.state.inject("throttle", float(control.get("throttle_rate") or 0)):
                self.state.count("Throttling.User")
                raise ApiError(400, "Throttling.User", "Request was denied due to user flow control.")
            if self.state.inject("error", float(control.get("error_rate") or 0)):
                self.state.count("ServiceUnavailable")
                raise ApiError(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")
            handler = getattr(self, "action_" + action, None)
            if handler is None:
                raise ApiError(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
            self.state.count(action)
            delay = float((control.get("delay") or {}).get(action) or 0)
            if delay:
                time.sleep(delay)
            result = handler(params)
            result["RequestId"] = request_id
            self.state.dump()
            self.reply(200, result)
        except ApiError as exc:
            self.state.count("error:" + exc.code)
            self.reply(exc.status, {"RequestId": request_id, "HostId": "alidns.aliyuncs.com", "Code": exc.code,
                                    "Message": exc.message,
                                    "Recommend": "https://api.aliyun.com/troubleshoot?q=%s&product=Alidns" % exc.code})

    def reply(self, status: int, body: dict[str, t.Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # ----------------------------------------------------------------- checks

    def authenticate(self, method: str, params: dict[str, str]) -> None:
        for name in ("AccessKeyId", "Signature", "SignatureNonce", "Timestamp", "Action"):
            if not params.get(name):
                raise ApiError(400, "MissingParameter", "The input parameter \"%s\" that is mandatory for processing this request is not supplied." % name)
        if params.get("Version") != "2015-01-09":
            raise ApiError(400, "InvalidVersion", "Specified parameter Version is not valid.")
        if params.get("SignatureMethod", "HMAC-SHA1") != "HMAC-SHA1":
            raise ApiError(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
        secret = self.state.conf["credentials"].get(params["AccessKeyId"])
        if secret is None:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        try:
            when = dt.datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise ApiError(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.") from None
        skew = abs((dt.datetime.now(dt.timezone.utc) - when).total_seconds())
        if skew > TIMESTAMP_WINDOW:
            raise ApiError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        text = string_to_sign(method, params)
        if not hmac.compare_digest(sign(secret, text), params["Signature"]):
            raise ApiError(400, "SignatureDoesNotMatch",
                           "Specified signature is not matched with our calculation. server string to sign is:" + text)
        with self.state.lock:
            if params["SignatureNonce"] in self.state.nonces:
                raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self.state.nonces.add(params["SignatureNonce"])

    @staticmethod
    def page(params: dict[str, str], maximum: int) -> tuple[int, int]:
        try:
            number = int(params.get("PageNumber") or 1)
            size = int(params.get("PageSize") or 20)
        except ValueError:
            raise ApiError(400, "InvalidParameter", "The specified parameter PageNumber or PageSize is not valid.") from None
        if number < 1 or size < 1 or size > maximum:
            raise ApiError(400, "InvalidPageSize", "The specified PageSize is invalid (1-%d)." % maximum)
        return number, size

    def domain(self, name: str) -> dict[str, t.Any]:
        for item in self.state.domains:
            if item["DomainName"] == name.lower().rstrip("."):
                return item
        raise ApiError(400, "InvalidDomainName.NoExist", "The specified domain name does not exist. Refresh the page and try again.")

    # ----------------------------------------------------------------- actions

    def action_DescribeDomains(self, params: dict[str, str]) -> dict[str, t.Any]:
        number, size = self.page(params, MAX_DOMAIN_PAGE)
        items = self.state.domains
        keyword = params.get("KeyWord")
        if keyword:
            items = [d for d in items if keyword in d["DomainName"]]
        chunk = items[(number - 1) * size:number * size]
        return {"TotalCount": len(items), "PageNumber": number, "PageSize": size, "Domains": {"Domain": chunk}}

    def records_page(self, records: list[dict[str, t.Any]], params: dict[str, str]) -> dict[str, t.Any]:
        number, size = self.page(params, MAX_RECORD_PAGE)
        chunk = records[(number - 1) * size:number * size]
        return {"TotalCount": len(records), "PageNumber": number, "PageSize": size, "DomainRecords": {"Record": chunk}}

    def action_DescribeDomainRecords(self, params: dict[str, str]) -> dict[str, t.Any]:
        domain = self.domain(params.get("DomainName", ""))["DomainName"]
        records = [r for r in self.state.records.values() if r["DomainName"] == domain]
        if params.get("RRKeyWord"):
            records = [r for r in records if params["RRKeyWord"] in r["RR"]]
        if params.get("TypeKeyWord"):
            records = [r for r in records if r["Type"] == params["TypeKeyWord"].upper()]
        if params.get("ValueKeyWord"):
            records = [r for r in records if params["ValueKeyWord"] in r["Value"]]
        return self.records_page(records, params)

    def action_DescribeSubDomainRecords(self, params: dict[str, str]) -> dict[str, t.Any]:
        sub = params.get("SubDomain", "").lower().rstrip(".")
        if not sub:
            raise ApiError(400, "MissingSubDomain", "SubDomain is mandatory for this action.")
        records = [r for r in self.state.records.values()
                   if (r["RR"] + "." + r["DomainName"] if r["RR"] != "@" else r["DomainName"]) == sub]
        if params.get("Type"):
            records = [r for r in records if r["Type"] == params["Type"].upper()]
        return self.records_page(records, params)

    def action_AddDomainRecord(self, params: dict[str, str]) -> dict[str, t.Any]:
        domain = self.domain(params.get("DomainName", ""))["DomainName"]
        rr, rtype, value = params.get("RR", ""), params.get("Type", "").upper(), params.get("Value", "")
        if not rr or not rtype or not value:
            raise ApiError(400, "MissingParameter", "RR, Type and Value are mandatory for this action.")
        try:
            ttl = int(params.get("TTL") or 600)
        except ValueError:
            raise ApiError(400, "InvalidTTL", "The specified TTL is invalid.") from None
        with self.state.lock:
            for rec in self.state.records.values():
                if (rec["DomainName"], rec["RR"], rec["Type"], rec["Value"]) == (domain, rr, rtype, value):
                    raise ApiError(400, "DomainRecordDuplicate", "The DNS record already exists.")
            self.state.next_id += 1
            record_id = str(self.state.next_id)
        self.state.nsupdate(domain, rr, rtype, value, ttl, add=True)
        with self.state.lock:
            self.state.records[record_id] = {
                "RecordId": record_id, "DomainName": domain, "RR": rr, "Type": rtype, "Value": value,
                "TTL": ttl, "Line": params.get("Line", "default"), "Status": "ENABLE", "Locked": False, "Weight": 1,
            }
        return {"RecordId": record_id}

    def action_DeleteDomainRecord(self, params: dict[str, str]) -> dict[str, t.Any]:
        record_id = params.get("RecordId", "")
        with self.state.lock:
            rec = self.state.records.get(record_id)
        if rec is None:
            raise ApiError(400, "DomainRecordNotBelongToUser", "The DNS record does not exist or you do not have permission to operate it.")
        self.state.nsupdate(rec["DomainName"], rec["RR"], rec["Type"], rec["Value"], int(rec["TTL"]), add=False)
        with self.state.lock:
            self.state.records.pop(record_id, None)
        return {"RecordId": record_id}


def main() -> None:
    with open(sys.argv[1]) as handle:
        conf = json.load(handle)
    Handler.state = State(conf)
    server = ThreadingHTTPServer(("127.0.0.1", int(conf["port"])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
