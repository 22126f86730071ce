"""A fault-injecting HTTP reverse proxy to put between boto3 and DynamoDB Local or the S3 server.

Real AWS has bad hours: throttling, 500s, connections that drop, BatchWriteItem calls that
write only part of a batch. The local servers have none of them, so this proxy adds them,
in the exact wire format the real services use, so that botocore parses and retries them
as it would in AWS:

* DynamoDB (JSON 1.0 protocol): HTTP 400 with
  `{"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "message": ...}`
  (and RequestLimitExceeded), 400 `com.amazon.coral.availability#ThrottlingException`, 500
  InternalServerError; `Content-Type: application/x-amz-json-1.0`, `x-amzn-RequestId` and the
  `x-amz-crc32` of the body that botocore checks. DynamoDB names the error only in the body's
  `__type` (botocore's JSON parser reads nothing else; `x-amzn-ErrorType` belongs to rest-json
  services), so no such header is sent.
* Partial UnprocessedItems: a BatchWriteItem is forwarded with only part of its requests and
  answered with the others in `UnprocessedItems`, so nothing is written that is not reported
  as written. (This rewrites the request body, which real SigV4 would refuse; DynamoDB Local
  does not check signatures.)
* S3 (REST-XML): 500 `InternalError` and 503 `SlowDown` as S3's
  `<Error><Code>..</Code><Message>..</Message><RequestId>..</RequestId><HostId>..</HostId></Error>`
  (no body for HEAD, as S3 does).
* Dropped connections, for both: `DROP` reads the request and closes the socket without
  forwarding it; `DROP_AFTER_FORWARD` forwards it, lets it take effect, and then closes the
  socket instead of answering: a lost response. By default the latter only hits requests
  that are safe to repeat (reads, puts without a condition, BatchWriteItem, UploadPart); set
  `unsafe_drops` to lose the answers of CreateTable, conditional puts and multipart
  create/complete too, which is what a real network can do to them.
* Opt-in, because botocore cannot retry it: `TRUNCATED_BODY` sends a GetObject's headers and
  half its body, then hangs up (a connection reset mid-download).
* `FaultPolicy.stall` holds chosen requests unanswered until the proxy stops: a hung server,
  for killing a client mid-way.

Everything else is forwarded faithfully: method, request target (path and query as sent),
headers in order including Host and Authorization (the signature covers Host), and the body.
A `Transfer-Encoding: chunked` body is de-chunked and re-chunked with its trailers. That is
also how botocore sends PutObject/UploadPart over TLS: `Content-Encoding: aws-chunked` content
(data chunks, then an `x-amz-checksum-crc32` trailer) inside HTTP chunked framing; the
aws-chunked content passes through byte for byte (tests/faults checks it against moto). Over
plain http, as locally, botocore sends the checksum as a header and a Content-Length body.
Hop-by-hop headers (Connection, Keep-Alive, Transfer-Encoding, Expect, ...) are the proxy's
own, as HTTP requires: `Expect: 100-continue` is answered by the proxy itself. Responses are
buffered, then sent with a Content-Length.

Which requests get a fault is drawn from a seeded random generator; with threads, the order
of requests (and so which one is hit) varies between runs, but the rates do not.
"""

import base64
import contextlib
import email.message
import http.client
import json
import random
import socket
import threading
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOOPBACK = "127.0.0.1"
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)
_DYNAMODB_TARGET_PREFIX = "DynamoDB_20120810."
_DYNAMODB_JSON = "application/x-amz-json-1.0"


class Fault(StrEnum):
    """What the proxy can do to a request instead of passing it through."""

    PROVISIONED_THROUGHPUT_EXCEEDED = "ProvisionedThroughputExceededException"
    THROTTLING = "ThrottlingException"
    REQUEST_LIMIT_EXCEEDED = "RequestLimitExceeded"
    INTERNAL_SERVER_ERROR = "InternalServerError"
    UNPROCESSED_ITEMS = "UnprocessedItems"
    S3_INTERNAL_ERROR = "InternalError"
    SLOW_DOWN = "SlowDown"
    DROP = "DropBeforeForward"
    DROP_AFTER_FORWARD = "DropAfterForward"
    TRUNCATED_BODY = "TruncatedBody"


DYNAMODB_FAULTS = (
    Fault.PROVISIONED_THROUGHPUT_EXCEEDED,
    Fault.THROTTLING,
    Fault.REQUEST_LIMIT_EXCEEDED,
    Fault.INTERNAL_SERVER_ERROR,
    Fault.UNPROCESSED_ITEMS,
    Fault.DROP,
    Fault.DROP_AFTER_FORWARD,
)
S3_FAULTS = (Fault.S3_INTERNAL_ERROR, Fault.SLOW_DOWN, Fault.DROP, Fault.DROP_AFTER_FORWARD)
# Only injected when `FaultPolicy.rates` names it: botocore cannot retry a body that breaks off
# after the headers arrived, so surviving it is the caller's job.
OPT_IN_FAULTS = (Fault.TRUNCATED_BODY,)

# (HTTP status, `__type`, message) as DynamoDB sends them.
_DYNAMODB_ERRORS: dict[Fault, tuple[int, str, str]] = {
    Fault.PROVISIONED_THROUGHPUT_EXCEEDED: (
        400,
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
    ),
    Fault.THROTTLING: (400, "com.amazon.coral.availability#ThrottlingException", "Rate exceeded"),
    Fault.REQUEST_LIMIT_EXCEEDED: (
        400,
        "com.amazonaws.dynamodb.v20120810#RequestLimitExceeded",
        "Throughput exceeds the current throughput limit for your account. "
        "Please contact AWS Support at https://aws.amazon.com/support request a limit increase",
    ),
    Fault.INTERNAL_SERVER_ERROR: (
        500,
        "com.amazonaws.dynamodb.v20120810#InternalServerError",
        "Internal server error",
    ),
}
# (HTTP status, reason phrase, Code, Message) as S3 sends them.
_S3_ERRORS: dict[Fault, tuple[int, str, str, str]] = {
    Fault.S3_INTERNAL_ERROR: (
        500,
        "Internal Server Error",
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
    Fault.SLOW_DOWN: (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
}
# Operations where throughput errors exist (the data plane); the control plane throttles with
# ThrottlingException only.
_DYNAMODB_DATA_PLANE = frozenset(
    {
        "BatchGetItem",
        "BatchWriteItem",
        "DeleteItem",
        "GetItem",
        "PutItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "TransactWriteItems",
        "UpdateItem",
    }
)
# Repeating these after their first attempt took effect gives the same result.
_DYNAMODB_IDEMPOTENT = frozenset(
    {
        "BatchGetItem",
        "BatchWriteItem",
        "DescribeTable",
        "DescribeTimeToLive",
        "GetItem",
        "ListTables",
        "Query",
        "Scan",
    }
)
_S3_IDEMPOTENT = frozenset(
    {"GetObject", "HeadObject", "HeadBucket", "ListObjectsV2", "ListObjects", "PutObject", "UploadPart"}
)


@dataclass(frozen=True)
class ProxiedRequest:
    """One request as the client sent it, with the service and operation it names."""

    method: str
    target: str  # path and query, exactly as sent
    headers: email.message.Message
    body: bytes
    chunked: bool
    trailers: tuple[tuple[str, str], ...] = ()

    @cached_property
    def service(self) -> str:
        target = self.headers.get("X-Amz-Target", "")
        return "dynamodb" if target.startswith(_DYNAMODB_TARGET_PREFIX) else "s3"

    @cached_property
    def operation(self) -> str:
        """DynamoDB's X-Amz-Target action, or the S3 operation the method, path and query make."""
        if self.service == "dynamodb":
            return str(self.headers["X-Amz-Target"])[len(_DYNAMODB_TARGET_PREFIX) :]
        return s3_operation(self.method, self.target, self.headers)

    def json(self) -> Any:
        """The body as JSON (DynamoDB requests), or None when it is not JSON. Do not modify it."""
        return self._parsed

    @cached_property
    def _parsed(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @cached_property
    def idempotent(self) -> bool:
        """Whether doing this request twice leaves the same state and gets the same answer."""
        if self.service == "dynamodb":
            return self.operation in _DYNAMODB_IDEMPOTENT
        if self.operation == "PutObject" and ("If-None-Match" in self.headers or "If-Match" in self.headers):
            return False  # a repeated conditional put fails with 412 PreconditionFailed
        return self.operation in _S3_IDEMPOTENT


_S3_SIMPLE = {
    ("GET", True): "GetObject",
    ("HEAD", True): "HeadObject",
    ("HEAD", False): "HeadBucket",
    ("PUT", False): "CreateBucket",
    ("DELETE", True): "DeleteObject",
    ("DELETE", False): "DeleteBucket",
}
_S3_POST = (
    ("uploads", "CreateMultipartUpload"),
    ("uploadId", "CompleteMultipartUpload"),
    ("delete", "DeleteObjects"),
)


def s3_operation(method: str, target: str, headers: email.message.Message) -> str:
    """Name the S3 operation of a path-style request (what botocore sends to an IP endpoint)."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    on_key = "/" in parts.path.strip("/")
    copy = "x-amz-copy-source" in headers
    if method == "PUT" and on_key and "partNumber" in query:
        name = "UploadPartCopy" if copy else "UploadPart"
    elif method == "PUT" and on_key:
        name = "CopyObject" if copy else "PutObject"
    elif method == "POST":
        name = next((operation for flag, operation in _S3_POST if flag in query), "PostObject")
    elif method == "DELETE" and "uploadId" in query:
        name = "AbortMultipartUpload"
    elif method == "GET" and not on_key:
        name = "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    else:
        name = _S3_SIMPLE.get((method, on_key), method)
    return name


def _batch_write_requests(request: ProxiedRequest) -> list[tuple[str, Any]]:
    """(table, write request) pairs of a BatchWriteItem, in order; [] if the body is not one."""
    document = request.json()
    if not isinstance(document, dict) or not isinstance(document.get("RequestItems"), dict):
        return []
    return [
        (table, write)
        for table, writes in document["RequestItems"].items()
        if isinstance(writes, list)
        for write in writes
    ]


@dataclass(frozen=True)
class FaultPolicy:
    """Which faults to inject, how often, and where.

    `rate` is the chance that a request gets a fault, spread evenly over the fault kinds that
    apply to it (UnprocessedItems only to BatchWriteItem, throughput errors only to the data
    plane, ...); `rates` instead gives each kind its own chance, and is the only way to ask for
    the opt-in kinds. `operations` confines faults to those operations (e.g. {"Scan"}), `after`
    lets the first that many of them through unharmed, `limit` stops after that many faults,
    `unsafe_drops` also loses the answers of writes that are not safe to repeat, and requests
    for which `stall` returns True are held unanswered until the proxy stops, like a hung server.
    """

    rate: float = 0.0
    seed: int = 0
    rates: Mapping[Fault, float] | None = None
    operations: frozenset[str] | None = None
    after: int = 0
    limit: int | None = None
    unsafe_drops: bool = False
    stall: Callable[[ProxiedRequest], bool] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if self.rates is not None and (
            any(r < 0 for r in self.rates.values()) or sum(self.rates.values()) > 1.0
        ):
            raise ValueError("rates must be non-negative and add up to at most 1")

    def applicable(self, request: ProxiedRequest) -> list[Fault]:
        """The fault kinds that make sense for this request."""
        if request.service == "s3":
            kinds = [Fault.S3_INTERNAL_ERROR, Fault.SLOW_DOWN, Fault.DROP]
            if request.operation == "GetObject":
                kinds.append(Fault.TRUNCATED_BODY)
        else:
            kinds = [Fault.THROTTLING, Fault.INTERNAL_SERVER_ERROR, Fault.DROP]
            if request.operation in _DYNAMODB_DATA_PLANE:
                kinds += [Fault.PROVISIONED_THROUGHPUT_EXCEEDED, Fault.REQUEST_LIMIT_EXCEEDED]
            if request.operation == "BatchWriteItem" and len(_batch_write_requests(request)) >= 2:
                kinds.append(Fault.UNPROCESSED_ITEMS)
        if request.idempotent or self.unsafe_drops:
            kinds.append(Fault.DROP_AFTER_FORWARD)
        return kinds

    def choose(self, request: ProxiedRequest, rng: random.Random, chosen: Counter[Fault]) -> Fault | None:
        """The fault for this request, or None to pass it through.

        With `rate`, the kind is the applicable one chosen least often so far (ties drawn at
        random): the kinds stay evenly spread, so even one that fits few requests (e.g.
        UnprocessedItems, BatchWriteItem only) is sure to occur in a run of a few dozen.
        """
        kinds = self.applicable(request)
        draw = rng.random()
        if self.rates is None:
            if draw >= self.rate:
                return None
            spread = [kind for kind in kinds if kind not in OPT_IN_FAULTS]
            fewest = min(chosen[kind] for kind in spread)
            return rng.choice([kind for kind in spread if chosen[kind] == fewest])
        for kind in kinds:
            rate = self.rates.get(kind, 0.0)
            if draw < rate:
                return kind
            draw -= rate
        return None


@dataclass
class FaultProxy:
    """A running proxy: its URL, and what it saw and injected so far (thread-safe counters)."""

    upstream: str
    policy: FaultPolicy
    url: str = ""
    injected: Counter[Fault] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)  # by operation, faulted or not
    stalled: int = 0  # requests held unanswered
    stopping: threading.Event = field(default_factory=threading.Event)
    _chosen: Counter[Fault] = field(default_factory=Counter)
    _rng: random.Random = field(default_factory=random.Random)
    _matched: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng.seed(self.policy.seed)

    def set_policy(self, policy: FaultPolicy) -> None:
        """Change the faults from now on (e.g. none, to read back what a faulty run wrote)."""
        with self._lock:
            self.policy = policy
            self._rng.seed(policy.seed)
            self._matched = 0
            self._chosen.clear()

    def decide(self, request: ProxiedRequest) -> Fault | None:
        with self._lock:
            self.requests[request.operation] += 1
            policy = self.policy
            if policy.operations is not None and request.operation not in policy.operations:
                return None
            self._matched += 1
            if self._matched <= policy.after or (
                policy.limit is not None and self._chosen.total() >= policy.limit
            ):
                return None
            fault = policy.choose(request, self._rng, self._chosen)
            if fault is not None:
                self._chosen[fault] += 1
            return fault

    def withhold(self, count: int) -> set[int]:
        """Which of `count` batch writes to hold back: at least one, never all."""
        with self._lock:
            return set(self._rng.sample(range(count), self._rng.randint(1, count - 1)))

    def count(self, fault: Fault) -> None:
        with self._lock:
            self.injected[fault] += 1

    def count_stall(self, request: ProxiedRequest) -> None:
        with self._lock:
            self.requests[request.operation] += 1
            self.stalled += 1

    def summary(self) -> dict[str, int]:
        """Injected faults by kind and the number of requests seen, for test reports."""
        with self._lock:
            counts = {str(kind): n for kind, n in sorted(self.injected.items())}
            return {**counts, "requests": self.requests.total()}


Response = tuple[int, str, list[tuple[str, str]], bytes]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy
    upstream_host: str
    upstream_port: int
    open_connections: set[socket.socket]
    connections_lock: threading.Lock


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    timeout = 120  # an idle client connection is closed after this many seconds
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.open_connections.discard(self.connection)
        with contextlib.suppress(OSError):  # the client went away first
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests report the counters instead."""

    def do_GET(self) -> None:
        self._proxy()

    def do_HEAD(self) -> None:
        self._proxy()

    def do_PUT(self) -> None:
        self._proxy()

    def do_POST(self) -> None:
        self._proxy()

    def do_DELETE(self) -> None:
        self._proxy()

    def _proxy(self) -> None:
        request = self._read_request()
        proxy = self.server.proxy
        if proxy.policy.stall is not None and proxy.policy.stall(request):
            proxy.count_stall(request)
            proxy.stopping.wait()
            self.close_connection = True
            return
        fault = proxy.decide(request)
        if fault is Fault.DROP:
            proxy.count(fault)
            self.close_connection = True
        elif fault in _DYNAMODB_ERRORS:
            proxy.count(fault)
            self._send_dynamodb_error(*_DYNAMODB_ERRORS[fault])
        elif fault in _S3_ERRORS:
            proxy.count(fault)
            self._send_s3_error(request, *_S3_ERRORS[fault])
        elif fault is Fault.UNPROCESSED_ITEMS:
            self._forward_part_of_batch(request)
        else:
            response = self._forward(request)
            if response is None:
                return
            if fault is Fault.DROP_AFTER_FORWARD:
                proxy.count(fault)
                self.close_connection = True
            elif fault is Fault.TRUNCATED_BODY and response[0] in (200, 206) and len(response[3]) >= 2:
                proxy.count(fault)
                self._send(request, response, cut_at=len(response[3]) // 2)
            else:
                self._send(request, response)

    def _read_request(self) -> ProxiedRequest:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        trailers: list[tuple[str, str]] = []
        if chunked:
            body = self._read_chunked(trailers)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return ProxiedRequest(self.command, self.path, self.headers, body, chunked, tuple(trailers))

    def _read_chunked(self, trailers: list[tuple[str, str]]) -> bytes:
        data = bytearray()
        while True:
            size_line = self.rfile.readline(65537)
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            data += self.rfile.read(size)
            self.rfile.readline()  # the CRLF after the chunk
        while (line := self.rfile.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            trailers.append((name.strip(), value.strip()))
        return bytes(data)

    def _forward(self, request: ProxiedRequest, body: bytes | None = None) -> Response | None:
        """Send the request upstream (with `body` instead of the client's, if given).

        None when the upstream failed; the client then has its 502 already.
        """
        upstream = http.client.HTTPConnection(
            self.server.upstream_host, self.server.upstream_port, timeout=60
        )
        try:
            upstream.putrequest(request.method, request.target, skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers.items():
                lowered = name.lower()
                if lowered in _HOP_BY_HOP:
                    continue
                if body is not None and lowered in ("content-length", "accept-encoding"):
                    continue  # a rewritten request has its own length, and its answer must be plain JSON
                upstream.putheader(name, value)
            if body is not None:
                upstream.putheader("Content-Length", str(len(body)))
                upstream.endheaders(body)
            elif request.chunked:
                upstream.putheader("Transfer-Encoding", "chunked")
                upstream.endheaders()
                upstream.send(_chunked(request.body, request.trailers))
            else:
                upstream.endheaders(request.body or None)
            answer = upstream.getresponse()
            return answer.status, answer.reason, answer.getheaders(), answer.read()
        except (OSError, http.client.HTTPException) as exc:
            self._send_plain(502, "Bad Gateway", f"upstream {self.server.upstream_host}: {exc}")
            return None
        finally:
            upstream.close()

    def _forward_part_of_batch(self, request: ProxiedRequest) -> None:
        """Write only some of a BatchWriteItem's requests and report the rest as UnprocessedItems."""
        writes = _batch_write_requests(request)
        held_back = self.server.proxy.withhold(len(writes))
        sent: dict[str, list[Any]] = {}
        withheld: dict[str, list[Any]] = {}
        for index, (table, write) in enumerate(writes):
            (withheld if index in held_back else sent).setdefault(table, []).append(write)
        document = {**request.json(), "RequestItems": sent}
        response = self._forward(request, json.dumps(document).encode("utf-8"))
        if response is None:
            return
        status, reason, headers, body = response
        if status == 200:
            answer = json.loads(body)
            unprocessed = answer.setdefault("UnprocessedItems", {})
            for table, writes_left in withheld.items():
                unprocessed.setdefault(table, []).extend(writes_left)
            body = json.dumps(answer, separators=(",", ":")).encode("utf-8")
            headers = [(k, v) for k, v in headers if k.lower() != "x-amz-crc32"]
            headers.append(("x-amz-crc32", str(zlib.crc32(body))))
            self.server.proxy.count(Fault.UNPROCESSED_ITEMS)
        self._send(request, (status, reason, headers, body))

    def _send(self, request: ProxiedRequest, response: Response, cut_at: int | None = None) -> None:
        """Answer with the upstream's response; `cut_at` sends only that much body, then hangs up."""
        status, reason, headers, body = response
        has_body = request.method != "HEAD" and status not in (204, 304) and status >= 200
        self.send_response_only(status, reason)
        for name, value in headers:
            lowered = name.lower()
            if lowered in _HOP_BY_HOP or (lowered == "content-length" and has_body):
                continue
            self.send_header(name, value)
        if has_body:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if has_body:
            self.wfile.write(body if cut_at is None else body[:cut_at])
        if cut_at is not None:
            self.wfile.flush()
            self.close_connection = True

    def _send_dynamodb_error(self, status: int, error_type: str, message: str) -> None:
        body = json.dumps({"__type": error_type, "message": message}).encode("utf-8")
        self.send_response_only(status)
        self.send_header("Server", "Server")
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", _DYNAMODB_JSON)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", (uuid.uuid4().hex + uuid.uuid4().hex).upper()[:52])
        self.send_header("x-amz-crc32", str(zlib.crc32(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_s3_error(
        self, request: ProxiedRequest, status: int, reason: str, code: str, message: str
    ) -> None:
        request_id = uuid.uuid4().hex.upper()[:16]
        host_id = base64.b64encode(uuid.uuid4().bytes * 4).decode("ascii")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>"
        ).encode()
        self.send_response_only(status, reason)
        self.send_header("x-amz-request-id", request_id)
        self.send_header("x-amz-id-2", host_id)
        self.send_header("Date", self.date_time_string())
        self.send_header("Server", "AmazonS3")
        if request.method == "HEAD":  # S3 answers a failed HEAD with the status line and headers alone
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_plain(self, status: int, reason: str, text: str) -> None:
        body = text.encode("utf-8", "replace")
        self.send_response_only(status, reason)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _chunked(body: bytes, trailers: tuple[tuple[str, str], ...]) -> bytes:
    """`body` as one HTTP/1.1 chunk, then the last chunk and the trailers."""
    framed = f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b""
    tail = "".join(f"{name}: {value}\r\n" for name, value in trailers).encode("latin-1")
    return framed + b"0\r\n" + tail + b"\r\n"


@contextlib.contextmanager
def fault_proxy(upstream_url: str, policy: FaultPolicy | None = None) -> Iterator[FaultProxy]:
    """Run a proxy to `upstream_url` (http://host:port) on a free loopback port for the block.

    Point a client at `proxy.url`; `proxy.injected` counts the faults by kind.
    """
    upstream = urlsplit(upstream_url)
    if upstream.scheme != "http" or not upstream.hostname or not upstream.port:
        raise ValueError(f"upstream must be http://host:port, not {upstream_url!r}")
    proxy = FaultProxy(upstream=upstream_url, policy=policy or FaultPolicy())
    server = _Server((LOOPBACK, 0), _Handler)
    server.proxy = proxy
    server.upstream_host, server.upstream_port = upstream.hostname, upstream.port
    server.open_connections, server.connections_lock = set(), threading.Lock()
    proxy.url = f"http://{LOOPBACK}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.stopping.set()  # releases stalled requests
        server.shutdown()
        with server.connections_lock:
            for connection in list(server.open_connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)  # idle keep-alive connections end too
        server.server_close()
        thread.join(timeout=5)
