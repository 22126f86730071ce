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

from devtools.fault_proxy.faults import DYNAMODB_FAULTS, OPT_IN_FAULTS, S3_FAULTS, Fault
from devtools.fault_proxy.policy import FaultPolicy, FaultProxy
from devtools.fault_proxy.requests import ProxiedRequest, s3_operation
from devtools.fault_proxy.server import LOOPBACK, fault_proxy

__all__ = [
    "DYNAMODB_FAULTS",
    "LOOPBACK",
    "OPT_IN_FAULTS",
    "S3_FAULTS",
    "Fault",
    "FaultPolicy",
    "FaultProxy",
    "ProxiedRequest",
    "fault_proxy",
    "s3_operation",
]
