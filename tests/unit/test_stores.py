"""The two backup stores: a local folder (LocalStore) and an S3 bucket (S3Store), same behaviour."""

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, cast

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from ledger_backup.errors import BackupNotFound
from ledger_backup.storage.stores import LocalStore, S3Store
from tests.unit.stand_ins import RecordingS3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


# --- LocalStore ------------------------------------------------------------------------------


def files_on_disk(root: Path) -> list[str]:
    """Every file under root, hidden ones included."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_put_then_get_returns_the_bytes_and_creates_folders(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("backups/t/2026/data/a.json.gz", b"\x00\x01 bytes")
    assert store.get("backups/t/2026/data/a.json.gz") == b"\x00\x01 bytes"
    assert (tmp_path / "backups/t/2026/data/a.json.gz").read_bytes() == b"\x00\x01 bytes"
    assert files_on_disk(tmp_path) == ["backups/t/2026/data/a.json.gz"]


def test_put_replaces_an_existing_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("k", b"old")
    store.put("k", b"new")
    assert store.get("k") == b"new"


def test_put_new_writes_once_and_refuses_an_existing_key(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_new("a/manifest.json", b"first")
    with pytest.raises(FileExistsError):
        store.put_new("a/manifest.json", b"second")
    assert store.get("a/manifest.json") == b"first"


def test_get_and_open_read_of_a_missing_key_name_the_path(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with pytest.raises(BackupNotFound, match=r"no backup file at .*missing\.json"):
        store.get("missing.json")
    with pytest.raises(BackupNotFound, match=r"missing\.json"):
        store.open_read("missing.json")


def test_open_read_of_a_folder_is_not_found(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("folder/file", b"x")
    with pytest.raises(BackupNotFound):
        store.open_read("folder")


def test_open_read_streams_the_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("k", b"0123456789")
    with store.open_read("k") as stream:
        assert stream.read(4) == b"0123"
        assert stream.read() == b"456789"


def test_exists_is_true_only_for_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("a/b", b"x")
    assert store.exists("a/b")
    assert not store.exists("a")  # a folder is not an object
    assert not store.exists("a/c")


def test_location_is_a_path_under_the_root(tmp_path: Path) -> None:
    assert LocalStore(tmp_path).location("a/b.json") == str(tmp_path / "a" / "b.json")


def test_list_keys_sorted_with_prefix_and_posix_separators(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for key in ["t/b/2", "t/a/1", "u/x", "t/a/0", "tt/y"]:
        store.put(key, b".")
    assert list(store.list_keys("t/")) == ["t/a/0", "t/a/1", "t/b/2"]
    assert list(store.list_keys("t")) == ["t/a/0", "t/a/1", "t/b/2", "tt/y"]  # a prefix, not a folder
    assert list(store.list_keys("")) == ["t/a/0", "t/a/1", "t/b/2", "tt/y", "u/x"]
    assert list(store.list_keys("nothing/")) == []


def test_list_keys_orders_keys_within_a_folder(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    names = ["segment-0010", "segment-0002", "manifest.json", "Z", "segment-0001"]
    for name in names:
        store.put(f"f/{name}", b".")
    assert list(store.list_keys("f/")) == [f"f/{name}" for name in sorted(names)]


def test_list_keys_orders_keys_as_s3_does(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    keys = ["a/b", "a-c", "a0", "a/a.json", "B", "z"]
    for key in keys:
        store.put(key, b".")
    s3 = RecordingS3()
    for key in keys:
        s3.objects[key] = b"."
    s3_order = list(s3_store(s3).list_keys(""))
    assert s3_order == sorted(keys, key=lambda k: k.encode())  # the stand-in answers as S3 does
    assert list(store.list_keys("")) == s3_order


def test_list_keys_skips_hidden_and_partial_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("f/data/a", b"x")
    upload = store.open_upload("f/data/b")
    upload.write(b"half")
    (tmp_path / "f" / ".DS_Store").write_bytes(b"")
    on_disk = files_on_disk(tmp_path)
    assert (on_disk[0], on_disk[2]) == ("f/.DS_Store", "f/data/a")
    assert re.fullmatch(r"f/data/\.b\.[0-9a-f]{32}\.partial", on_disk[1])
    assert list(store.list_keys("f/")) == ["f/data/a"]
    upload.abort()


def test_list_keys_of_a_missing_root_is_empty(tmp_path: Path) -> None:
    assert list(LocalStore(tmp_path / "not-there").list_keys("")) == []


def test_delete_removes_the_keys_and_ignores_missing_ones(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for key in ["a", "b", "c"]:
        store.put(key, b".")
    store.delete(iter(["a", "c", "never-was"]))
    assert list(store.list_keys("")) == ["b"]


@pytest.mark.parametrize("key", ["../outside", "a/../../outside", "/etc/passwd"])
def test_keys_escaping_the_root_are_refused(tmp_path: Path, key: str) -> None:
    store = LocalStore(tmp_path / "root")
    with pytest.raises(ValueError, match="escapes"):
        store.put(key, b"x")
    with pytest.raises(ValueError, match="escapes"):
        store.get(key)
    with pytest.raises(ValueError, match="escapes"):
        store.delete([key])
    assert not (tmp_path / "outside").exists()


def test_upload_is_invisible_until_committed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    upload = store.open_upload("b/data/file.gz")
    assert upload.write(b"abc") == 3
    upload.write(b"def")
    upload.flush()
    assert not store.exists("b/data/file.gz")
    assert list(store.list_keys("")) == []
    upload.commit()
    assert store.get("b/data/file.gz") == b"abcdef"
    assert files_on_disk(tmp_path) == ["b/data/file.gz"]  # the partial file became the object


def test_aborted_upload_leaves_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    upload = store.open_upload("b/data/file.gz")
    upload.write(b"abc")
    upload.abort()
    assert files_on_disk(tmp_path) == []
    assert not store.exists("b/data/file.gz")


def test_commit_after_abort_fails_and_leaves_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    upload = store.open_upload("b/file")
    upload.write(b"abc")
    upload.abort()
    with pytest.raises(OSError, match="partial"):
        upload.commit()
    assert files_on_disk(tmp_path) == []


def test_aborted_upload_keeps_an_earlier_object(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("k", b"committed")
    upload = store.open_upload("k")
    upload.write(b"replacement")
    upload.abort()
    assert store.get("k") == b"committed"
    assert files_on_disk(tmp_path) == ["k"]


# --- S3Store against a stand-in ----------------------------------------------------------------


def s3_store(s3: RecordingS3, part_size: int = 5 * 1024 * 1024) -> S3Store:
    return S3Store(cast("S3Client", s3), "bkt", part_size=part_size)


def test_s3_location_is_an_s3_url() -> None:
    assert s3_store(RecordingS3()).location("backups/t/manifest.json") == "s3://bkt/backups/t/manifest.json"


def test_s3_put_get_and_exists() -> None:
    s3 = RecordingS3()
    store = s3_store(s3)
    store.put("a/b", b"payload")
    assert store.get("a/b") == b"payload"
    assert store.exists("a/b")
    assert not store.exists("a/c")
    put = s3.calls_of("put_object")[0]
    assert put.params == {"Bucket": "bkt", "Key": "a/b", "Body": b"payload"}  # no condition on put


def test_s3_put_new_asks_for_if_none_match_and_maps_precondition_failed() -> None:
    s3 = RecordingS3()
    store = s3_store(s3)
    store.put_new("m.json", b"first")
    with pytest.raises(FileExistsError, match=r"s3://bkt/m\.json"):
        store.put_new("m.json", b"second")
    assert [c.params.get("IfNoneMatch") for c in s3.calls_of("put_object")] == ["*", "*"]
    assert s3.objects["m.json"] == b"first"


def test_s3_open_read_of_a_missing_key_is_backup_not_found() -> None:
    store = s3_store(RecordingS3())
    with pytest.raises(BackupNotFound, match=r"no backup object at s3://bkt/nope"):
        store.open_read("nope")


def test_s3_other_errors_are_not_hidden() -> None:
    s3 = RecordingS3(fail_on={"get_object": 0, "head_object": 0})
    s3.objects["k"] = b"x"
    store = s3_store(s3)
    with pytest.raises(Exception, match="InternalError"):
        store.get("k")
    with pytest.raises(Exception, match="InternalError"):
        store.exists("k")


def test_s3_delete_sends_batches_of_at_most_1000_quietly() -> None:
    s3 = RecordingS3()
    keys = [f"k{n:05d}" for n in range(2500)]
    for key in keys:
        s3.objects[key] = b"."
    s3.objects["kept"] = b"."
    s3_store(s3).delete(iter(keys))
    batches = [c.params["Delete"] for c in s3.calls_of("delete_objects")]
    assert [len(b["Objects"]) for b in batches] == [1000, 1000, 500]
    assert all(b["Quiet"] is True for b in batches)
    assert [o["Key"] for b in batches for o in b["Objects"]] == keys
    assert list(s3.objects) == ["kept"]


def test_s3_delete_of_exactly_1000_keys_is_one_call_and_of_none_is_no_call() -> None:
    s3 = RecordingS3()
    store = s3_store(s3)
    store.delete([f"k{n}" for n in range(1000)])
    store.delete([])
    assert len(s3.calls_of("delete_objects")) == 1


def test_s3_list_keys_reads_every_page() -> None:
    s3 = RecordingS3(list_page_size=2)
    for key in ["p/a", "p/b", "p/c", "p/d", "p/e", "q/z"]:
        s3.objects[key] = b"."
    assert list(s3_store(s3).list_keys("p/")) == ["p/a", "p/b", "p/c", "p/d", "p/e"]
    assert list(s3_store(s3).list_keys("none/")) == []
    assert s3.calls_of("list_objects_v2")[0].params == {"Bucket": "bkt", "Prefix": "p/"}


def test_s3_upload_goes_through_multipart_with_the_store_part_size() -> None:
    s3 = RecordingS3()
    store = s3_store(s3, part_size=5 * 1024 * 1024)
    upload = store.open_upload("big")
    data = bytes(range(256)) * (6 * 1024 * 1024 // 256)
    upload.write(data)
    assert "big" not in s3.objects
    upload.commit()
    assert s3.objects["big"] == data
    assert [len(c.params["Body"]) for c in s3.calls_of("upload_part")] == [5 * 1024 * 1024, 1024 * 1024]


# --- S3Store against a real botocore client with Stubber (exact requests) ---------------------


@pytest.fixture
def stubbed() -> "tuple[S3Client, Stubber]":
    client = boto3.client(
        "s3",
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106
    )
    return client, Stubber(client)


def test_stubbed_put_new_sends_if_none_match_and_maps_412(stubbed: "tuple[S3Client, Stubber]") -> None:
    client, stubber = stubbed
    stubber.add_response(
        "put_object", {"ETag": '"e"'}, {"Bucket": "bkt", "Key": "m.json", "Body": b"x", "IfNoneMatch": "*"}
    )
    stubber.add_client_error(
        "put_object",
        service_error_code="PreconditionFailed",
        http_status_code=412,
        expected_params={"Bucket": "bkt", "Key": "m.json", "Body": b"y", "IfNoneMatch": "*"},
    )
    store = S3Store(client, "bkt")
    with stubber:
        store.put_new("m.json", b"x")
        with pytest.raises(FileExistsError):
            store.put_new("m.json", b"y")
    stubber.assert_no_pending_responses()


def test_stubbed_conditional_request_conflict_is_also_file_exists(
    stubbed: "tuple[S3Client, Stubber]",
) -> None:
    client, stubber = stubbed
    stubber.add_client_error(
        "put_object", service_error_code="ConditionalRequestConflict", http_status_code=409
    )
    with stubber, pytest.raises(FileExistsError):
        S3Store(client, "bkt").put_new("m.json", b"x")


def test_stubbed_put_new_other_errors_propagate(stubbed: "tuple[S3Client, Stubber]") -> None:
    client, stubber = stubbed
    stubber.add_client_error("put_object", service_error_code="AccessDenied", http_status_code=403)
    with stubber, pytest.raises(Exception, match="AccessDenied") as caught:
        S3Store(client, "bkt").put_new("m.json", b"x")
    assert not isinstance(caught.value, FileExistsError)


def test_stubbed_missing_key_and_head_404(stubbed: "tuple[S3Client, Stubber]") -> None:
    client, stubber = stubbed
    stubber.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)
    stubber.add_client_error("head_object", service_error_code="404", http_status_code=404)
    store = S3Store(client, "bkt")
    with stubber:
        with pytest.raises(BackupNotFound, match="s3://bkt/gone"):
            store.get("gone")
        assert store.exists("gone") is False
    stubber.assert_no_pending_responses()


def test_stubbed_get_reads_the_body(stubbed: "tuple[S3Client, Stubber]") -> None:
    client, stubber = stubbed
    data = b"line\n" * 1000
    stubber.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(data), len(data)), "ETag": '"abc"', "ContentLength": len(data)},
        {"Bucket": "bkt", "Key": "k"},
    )
    with stubber:
        assert S3Store(client, "bkt").get("k") == data


def test_stubbed_list_keys_follows_continuation_tokens(stubbed: "tuple[S3Client, Stubber]") -> None:
    client, stubber = stubbed
    stubber.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": "p/a"}, {"Key": "p/b"}], "IsTruncated": True, "NextContinuationToken": "t1"},
        {"Bucket": "bkt", "Prefix": "p/"},
    )
    stubber.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": "p/c"}], "IsTruncated": False},
        {"Bucket": "bkt", "Prefix": "p/", "ContinuationToken": "t1"},
    )
    with stubber:
        assert list(S3Store(client, "bkt").list_keys("p/")) == ["p/a", "p/b", "p/c"]
    stubber.assert_no_pending_responses()


def test_stubbed_delete_sends_quiet_batches(stubbed: "tuple[S3Client, Stubber]") -> None:
    client, stubber = stubbed
    keys = [f"k{n}" for n in range(1001)]
    stubber.add_response(
        "delete_objects",
        {},
        {"Bucket": "bkt", "Delete": {"Objects": [{"Key": k} for k in keys[:1000]], "Quiet": True}},
    )
    stubber.add_response(
        "delete_objects", {}, {"Bucket": "bkt", "Delete": {"Objects": [{"Key": "k1000"}], "Quiet": True}}
    )
    with stubber:
        S3Store(client, "bkt").delete(keys)
    stubber.assert_no_pending_responses()


def test_two_uploads_of_one_key_each_write_their_own_file_and_one_wins_whole(tmp_path: Path) -> None:
    """Uploads of one key at once (two writers of a manifest) never mix their bytes."""
    store = LocalStore(tmp_path)
    first, second = store.open_upload("f/manifest.json"), store.open_upload("f/manifest.json")
    first.write(b"first " * 1000)
    second.write(b"second")
    first.commit()
    assert store.get("f/manifest.json") == b"first " * 1000
    second.commit()
    assert store.get("f/manifest.json") == b"second"
    assert files_on_disk(tmp_path) == ["f/manifest.json"]


def test_a_put_that_fails_keeps_the_earlier_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("f/manifest.json", b"old")
    with pytest.raises(TypeError):
        store.put("f/manifest.json", "not bytes")  # type: ignore[arg-type]
    assert store.get("f/manifest.json") == b"old"
    assert files_on_disk(tmp_path) == ["f/manifest.json"]
