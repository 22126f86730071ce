"""The proxy server: forwards requests faithfully, or answers them with the fault its policy chose."""

import base64
import contextlib
import http.client
import json
import socket
import threading
import uuid
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from devtools.fault_proxy.faults import DYNAMODB_ERRORS, S3_ERRORS, Fault
from devtools.fault_proxy.policy import FaultPolicy, FaultProxy
from devtools.fault_proxy.requests import ProxiedRequest, batch_write_requests

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
_DYNAMODB_JSON = "application/x-amz-json-1.0"


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
        elif fault in DYNAMODB_ERRORS:
            proxy.count(fault)
            self._send_dynamodb_error(*DYNAMODB_ERRORS[fault])
        elif fault in S3_ERRORS:
            proxy.count(fault)
            self._send_s3_error(request, *S3_ERRORS[fault])
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
        writes = batch_write_requests(request)
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
