"""The fault proxy itself: it forwards faithfully, and its faults are the real services' wire format.

Each error is checked by what botocore makes of it: with retries off, the exception's code
and HTTP status must be what AWS's own error gives; with the product's retry settings, one
injected fault of each kind must be absorbed by botocore alone.
"""

import base64
import email.message
import http.client
import json
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ResponseStreamingError

from devtools.fault_proxy import (
    DYNAMODB_FAULTS,
    S3_FAULTS,
    Fault,
    FaultPolicy,
    ProxiedRequest,
    fault_proxy,
)
from devtools.local_aws import LOOPBACK, LocalAws
from devtools.tables import create_table, scan_all
from ledger_backup.aws.clients import dynamodb_client, s3_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


class _Recorder(BaseHTTPRequestHandler):
    """An upstream that records what reached it and answers with fixed headers and body."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, list[tuple[str, str]], bytes]]

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.command, self.path, list(self.headers.items()), body))
        payload = b'{"ok":true}'
        self.send_response_only(201, "Created")
        self.send_header("ETag", '"abc"')
        self.send_header("x-amz-request-id", "REQ1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_PUT = do_GET = do_HEAD = _answer  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[tuple[str, str, list[tuple[str, str]], bytes]]]]:
    seen: list[tuple[str, str, list[tuple[str, str]], bytes]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer((LOOPBACK, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{LOOPBACK}:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_request_and_response_pass_through_unchanged(
    recorder: tuple[str, list[tuple[str, str, list[tuple[str, str]], bytes]]],
) -> None:
    upstream, seen = recorder
    body = bytes(range(256)) * 3
    headers = {
        "Host": "bucket.example.test:4566",
        "Authorization": "AWS4-HMAC-SHA256 Credential=local/20261125/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0123abcd",
        "X-Amz-Date": "20261125T101010Z",
        "x-amz-meta-note": "kept as sent",
        "Content-Length": str(len(body)),
    }
    target = "/bucket/a%20key/%E2%9C%93?partNumber=2&uploadId=x%2By&x-id=UploadPart"
    with fault_proxy(upstream) as proxy:
        connection = http.client.HTTPConnection(LOOPBACK, int(proxy.url.rsplit(":", 1)[1]))
        connection.putrequest("PUT", target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        answer = response.read()
        connection.request("HEAD", "/bucket/a%20key", headers={"Host": "h"})
        head = connection.getresponse()
        head.read()
    method, path, forwarded, received = seen[0]
    assert (method, path, received) == ("PUT", target, body)
    assert forwarded == list(headers.items())  # same headers in the same order, Host and Authorization too
    assert (response.status, response.getheader("ETag"), response.getheader("x-amz-request-id")) == (
        201,
        '"abc"',
        "REQ1",
    )
    assert answer == b'{"ok":true}'
    assert head.getheader("Content-Length") == "11"  # a HEAD keeps the length of what a GET would send
    assert proxy.requests == {"UploadPart": 1, "HeadObject": 1}


def test_s3_uploads_arrive_intact_in_every_framing(
    local_services: LocalAws, s3: "S3Client", bucket: str
) -> None:
    """Content-Length, HTTP chunked, and aws-chunked with a trailing CRC32 (botocore's framing over TLS)."""
    data = bytes(range(256)) * 4096
    with fault_proxy(local_services.s3_endpoint) as proxy:
        boto3.client("s3", endpoint_url=proxy.url).put_object(Bucket=bucket, Key="plain", Body=data)

        connection = http.client.HTTPConnection(LOOPBACK, int(proxy.url.rsplit(":", 1)[1]))
        connection.request(
            "PUT", f"/{bucket}/chunked", body=iter([data[:1000], data[1000:]]), encode_chunked=True
        )
        assert connection.getresponse().status == 200

        # Over https botocore streams PutObject as aws-chunked with the checksum in a trailer; send
        # that very request over plain http to the proxy by rewriting the URL after signing.
        tls = boto3.client("s3", endpoint_url=proxy.url.replace("http://", "https://"))
        framing: dict[str, str] = {}

        def to_plain_http(request: AWSRequest, **_: Any) -> None:
            framing.update({k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})
            request.url = str(request.url).replace("https://", "http://", 1)

        tls.meta.events.register("before-send.s3.PutObject", to_plain_http)
        tls.put_object(Bucket=bucket, Key="aws-chunked", Body=data)
    assert framing["Content-Encoding"] == "aws-chunked"
    assert framing["X-Amz-Trailer"] == "x-amz-checksum-crc32"
    for key in ("plain", "chunked", "aws-chunked"):
        stored = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert stored["Body"].read() == data, key
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert s3.head_object(Bucket=bucket, Key="aws-chunked", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc


DYNAMODB_ERRORS = [
    (Fault.PROVISIONED_THROUGHPUT_EXCEEDED, "ProvisionedThroughputExceededException", 400),
    (Fault.THROTTLING, "ThrottlingException", 400),
    (Fault.REQUEST_LIMIT_EXCEEDED, "RequestLimitExceeded", 400),
    (Fault.INTERNAL_SERVER_ERROR, "InternalServerError", 500),
]


@pytest.mark.parametrize(("fault", "code", "status"), DYNAMODB_ERRORS, ids=[f for f, _, _ in DYNAMODB_ERRORS])
def test_dynamodb_errors_are_what_botocore_parses_from_dynamodb(
    local_services: LocalAws,
    dynamodb: "DynamoDBClient",
    unique_name: str,
    fault: Fault,
    code: str,
    status: int,
) -> None:
    create_table(dynamodb, unique_name)
    with fault_proxy(local_services.dynamodb_endpoint, FaultPolicy(rates={fault: 1.0})) as proxy:
        client = boto3.client("dynamodb", endpoint_url=proxy.url, config=NO_RETRIES)
        with pytest.raises(ClientError) as caught:
            client.scan(TableName=unique_name)
        # The modeled exception class, as for the real service.
        assert type(caught.value) is getattr(client.exceptions, code)
        assert caught.value.response["Error"]["Code"] == code
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert proxy.injected == {fault: 1}


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [(Fault.S3_INTERNAL_ERROR, "InternalError", 500), (Fault.SLOW_DOWN, "SlowDown", 503)],
    ids=["InternalError", "SlowDown"],
)
def test_s3_errors_are_what_botocore_parses_from_s3(
    local_services: LocalAws, s3: "S3Client", bucket: str, fault: Fault, code: str, status: int
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with fault_proxy(local_services.s3_endpoint, FaultPolicy(rates={fault: 1.0})) as proxy:
        client = boto3.client("s3", endpoint_url=proxy.url, config=NO_RETRIES)
        with pytest.raises(ClientError) as caught:
            client.get_object(Bucket=bucket, Key="k")
        assert (caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"] != "") == (
            code,
            True,
        )
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        with pytest.raises(ClientError) as head:  # HEAD errors carry no body, as in S3
            client.head_object(Bucket=bucket, Key="k")
        assert head.value.response["Error"]["Code"] == str(status)
        assert proxy.injected == {fault: 2}


@pytest.mark.parametrize("fault", DYNAMODB_FAULTS, ids=str)
def test_botocore_retries_absorb_each_dynamodb_fault(
    local_services: LocalAws,
    dynamodb: "DynamoDBClient",
    unique_name: str,
    monkeypatch: pytest.MonkeyPatch,
    fault: Fault,
) -> None:
    """The product's client settings (standard mode) get past one fault of every kind on their own."""
    create_table(dynamodb, unique_name)
    writes: Any = [
        {"PutRequest": {"Item": {"pk": {"S": f"item-{n}"}, "b": {"B": bytes([n])}}}} for n in range(25)
    ]
    with fault_proxy(
        local_services.dynamodb_endpoint,
        FaultPolicy(rates={fault: 1.0}, operations=frozenset({"BatchWriteItem"}), limit=1),
    ) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        client = dynamodb_client()
        answer = client.batch_write_item(RequestItems={unique_name: writes})
    unprocessed = answer.get("UnprocessedItems", {}).get(unique_name, [])
    assert proxy.injected == {fault: 1}
    if fault is Fault.UNPROCESSED_ITEMS:
        assert 0 < len(unprocessed) < 25  # botocore cannot see these: the caller must resend them
    else:
        assert unprocessed == []
        assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    stored = scan_all(dynamodb, unique_name)
    assert len(stored) == 25 - len(unprocessed)


@pytest.mark.parametrize("fault", S3_FAULTS, ids=str)
def test_botocore_retries_absorb_each_s3_fault(
    local_services: LocalAws, s3: "S3Client", bucket: str, monkeypatch: pytest.MonkeyPatch, fault: Fault
) -> None:
    with fault_proxy(local_services.s3_endpoint, FaultPolicy(rates={fault: 1.0}, limit=2)) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        client = s3_client()
        client.put_object(Bucket=bucket, Key="k", Body=b"payload")
        assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"payload"
    assert proxy.injected == {fault: 2}


def test_partial_batch_writes_exactly_what_it_does_not_report_unprocessed(
    local_services: LocalAws, dynamodb: "DynamoDBClient", unique_name: str
) -> None:
    create_table(dynamodb, unique_name)
    items = [{"pk": {"S": f"item-{n:02d}"}, "n": {"N": str(n)}} for n in range(25)]
    policy = FaultPolicy(rates={Fault.UNPROCESSED_ITEMS: 1.0}, seed=3)
    with fault_proxy(local_services.dynamodb_endpoint, policy) as proxy:
        client = boto3.client("dynamodb", endpoint_url=proxy.url, config=NO_RETRIES)
        answer = client.batch_write_item(
            RequestItems={unique_name: [{"PutRequest": {"Item": i}} for i in items]}
        )
    unprocessed = {w["PutRequest"]["Item"]["pk"]["S"] for w in answer["UnprocessedItems"][unique_name]}
    written = set(scan_all(dynamodb, unique_name))
    assert unprocessed
    assert written
    assert written.isdisjoint(unprocessed)
    assert written | unprocessed == {i["pk"]["S"] for i in items}


def test_dropped_connections_before_and_after_forwarding(
    local_services: LocalAws, s3: "S3Client", bucket: str
) -> None:
    """Before: the request never arrived. After: it took effect, and only the answer was lost."""
    with fault_proxy(local_services.s3_endpoint, FaultPolicy(rates={Fault.DROP: 1.0})) as proxy:
        client = boto3.client("s3", endpoint_url=proxy.url, config=NO_RETRIES)
        with pytest.raises(ConnectionClosedError):
            client.put_object(Bucket=bucket, Key="never-arrived", Body=b"x")
        proxy.set_policy(FaultPolicy(rates={Fault.DROP_AFTER_FORWARD: 1.0}))
        with pytest.raises(ConnectionClosedError):
            client.put_object(Bucket=bucket, Key="arrived", Body=b"x")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] == ["arrived"]
    assert proxy.injected == {Fault.DROP: 1, Fault.DROP_AFTER_FORWARD: 1}


def _request(method: str, target: str, **headers: str) -> ProxiedRequest:
    message = email.message.Message()
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    return ProxiedRequest(method, target, message, b"", chunked=False)


def test_answers_are_lost_only_where_repeating_the_request_is_safe() -> None:
    safe = FaultPolicy()
    unsafe = FaultPolicy(unsafe_drops=True)
    manifest_put = _request("PUT", "/b/backups/t/x/manifest.json", If_None_Match="*")
    create_table_call = _request("POST", "/", X_Amz_Target="DynamoDB_20120810.CreateTable")
    complete_upload = _request("POST", "/b/k?uploadId=abc")
    scan = _request("POST", "/", X_Amz_Target="DynamoDB_20120810.Scan")
    part = _request("PUT", "/b/k?partNumber=1&uploadId=abc")
    assert (complete_upload.operation, part.operation, scan.operation) == (
        "CompleteMultipartUpload",
        "UploadPart",
        "Scan",
    )
    for request in (manifest_put, create_table_call, complete_upload):
        assert Fault.DROP_AFTER_FORWARD not in safe.applicable(request)
        assert Fault.DROP_AFTER_FORWARD in unsafe.applicable(request)
    for request in (scan, part):
        assert Fault.DROP_AFTER_FORWARD in safe.applicable(request)
    assert Fault.PROVISIONED_THROUGHPUT_EXCEEDED not in safe.applicable(create_table_call)
    assert Fault.UNPROCESSED_ITEMS not in safe.applicable(scan)


def test_a_truncated_download_breaks_off_mid_body(
    local_services: LocalAws, s3: "S3Client", bucket: str
) -> None:
    """What botocore cannot retry: the answer started fine and then the connection died."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 10_000)
    policy = FaultPolicy(rates={Fault.TRUNCATED_BODY: 1.0})
    with fault_proxy(local_services.s3_endpoint, policy) as proxy:
        body = boto3.client("s3", endpoint_url=proxy.url).get_object(Bucket=bucket, Key="k")["Body"]
        with pytest.raises(ResponseStreamingError):
            body.read()
    assert proxy.injected == {Fault.TRUNCATED_BODY: 1}


def test_rate_spreads_evenly_over_the_kinds_that_apply() -> None:
    policy = FaultPolicy(rate=0.25)
    scan = _request("POST", "/", X_Amz_Target="DynamoDB_20120810.Scan")
    rng, chosen, passed = Random(1), Counter[Fault](), 0
    for _ in range(4000):
        fault = policy.choose(scan, rng, chosen)
        if fault is None:
            passed += 1
        else:
            chosen[fault] += 1
    assert 900 < chosen.total() < 1100  # 25 % of 4000
    assert set(chosen) == {
        Fault.THROTTLING,
        Fault.INTERNAL_SERVER_ERROR,
        Fault.DROP,
        Fault.PROVISIONED_THROUGHPUT_EXCEEDED,
        Fault.REQUEST_LIMIT_EXCEEDED,
        Fault.DROP_AFTER_FORWARD,
    }  # everything that applies to a Scan, nothing opt-in
    assert max(chosen.values()) - min(chosen.values()) <= 1


def test_policy_refuses_impossible_rates() -> None:
    with pytest.raises(ValueError, match="rate must be between 0 and 1"):
        FaultPolicy(rate=1.5)
    with pytest.raises(ValueError, match="add up to at most 1"):
        FaultPolicy(rates={Fault.DROP: 0.7, Fault.THROTTLING: 0.7})


def test_json_helper_reads_dynamodb_bodies() -> None:
    request = ProxiedRequest("POST", "/", email.message.Message(), json.dumps({"Segment": 3}).encode(), False)
    assert request.json() == {"Segment": 3}
