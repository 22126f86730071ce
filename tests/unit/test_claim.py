"""Target claims: one restore per target table, held atomically, given back only by their holder."""

import json
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from ledger_backup.errors import TargetBusy
from ledger_backup.restore.claim import Claim, TargetClaims, claimed, take_over_target
from ledger_backup.restore.journal import RestoreJournal, RestoreProgress, RestoreResult
from ledger_backup.schema import TableSchema
from ledger_backup.storage.stores import LocalStore

FIRST, SECOND = "20261125T030000Z-0123abcd", "20261125T030001Z-4567cdef"
SOURCE = "s3://bkt/backups/ledger/2026-11-25T03-00-00.000Z/manifest.json"
KEY = "backups/restores/claims/ledger-r.json"


SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "book_id", "KeyType": "HASH"}],
    attribute_definitions=[{"AttributeName": "book_id", "AttributeType": "S"}],
)


def progress(restore_id: str) -> RestoreProgress:
    return RestoreProgress(
        restore_id=restore_id,
        source_key="backups/ledger/2026-11-25T03-00-00.000Z/manifest.json",
        source_location=SOURCE,
        target_table="ledger-r",
        schema=SCHEMA,
        schema_from="backup",
        table_created=True,
        expected_items=10,
        started_at="2026-11-25T03:00:00+00:00",
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path)


@pytest.fixture
def claims(store: LocalStore) -> TargetClaims:
    return TargetClaims(store, "backups")


def busy_message(store: LocalStore, holder: Claim) -> str:
    """The refusal when the holder has saved a checkpoint: it can be waited for, resumed, or given up."""
    rid = holder.restore_id
    return (
        f"target table 'ledger-r' is held by restore {rid} (started {holder.started_at} from {SOURCE}): "
        f'if it is still running, wait for it and read {{"restore_status": "{rid}"}} (CLI: restore-status '
        f'{rid}); if its invocation died, finish it with {{"resume": "{rid}"}} (CLI: resume {rid}), or '
        f"give it up by deleting {store.location(KEY)}"
    )


def checkpointed(store: LocalStore, restore_id: str) -> None:
    """The holder has written a while and saved where it stands."""
    RestoreJournal(store, "backups/").save(progress(restore_id).advanced(0, 25, 25), "w1")


def test_a_claim_lives_beside_the_restore_journal(store: LocalStore) -> None:
    assert TargetClaims(store, "/backups//").key("ledger-r") == KEY
    assert TargetClaims(store, "").key("ledger-r") == "restores/claims/ledger-r.json"
    assert TargetClaims.beside(RestoreJournal(store, "backups/")).key("ledger-r") == KEY


def test_a_claim_records_who_holds_the_target_and_since_when(store: LocalStore, claims: TargetClaims) -> None:
    claims.claim("ledger-r", FIRST, SOURCE)
    document = json.loads(store.get(KEY))
    assert {k: document[k] for k in ("restore_id", "target_table", "source")} == {
        "restore_id": FIRST,
        "target_table": "ledger-r",
        "source": SOURCE,
    }
    assert document["started_at"].startswith("20")
    assert claims.holder("ledger-r") == Claim(FIRST, "ledger-r", SOURCE, document["started_at"])
    assert claims.holder("ledger-other") is None


def test_a_second_restore_is_refused_naming_the_first_and_what_to_do(
    store: LocalStore, claims: TargetClaims
) -> None:
    claims.claim("ledger-r", FIRST, SOURCE)
    checkpointed(store, FIRST)
    holder = claims.holder("ledger-r")
    assert holder is not None
    with pytest.raises(TargetBusy) as caught:
        claims.claim("ledger-r", SECOND, "s3://bkt/other.json")
    assert str(caught.value) == busy_message(store, holder)
    assert claims.holder("ledger-r") == holder, "the refused restore changed the claim"


def test_a_holder_without_a_checkpoint_is_explained_as_checking_or_died_early(
    store: LocalStore, claims: TargetClaims
) -> None:
    claims.claim("ledger-r", FIRST, SOURCE)
    holder = claims.holder("ledger-r")
    assert holder is not None
    with pytest.raises(TargetBusy) as caught:
        claims.claim("ledger-r", SECOND, SOURCE)
    assert str(caught.value) == (
        f"target table 'ledger-r' is held by restore {FIRST} (started {holder.started_at} from {SOURCE}), "
        "which has saved no checkpoint yet: it is still checking its backup, or it died before writing "
        f"anything it could resume from; if it is not running, give it up by deleting {store.location(KEY)}"
    )


def test_a_holder_that_finished_without_giving_its_claim_back_is_named(
    store: LocalStore, claims: TargetClaims
) -> None:
    claims.claim("ledger-r", FIRST, SOURCE)
    RestoreJournal(store, "backups/").finish(FIRST, {"status": "complete"})
    with pytest.raises(TargetBusy) as caught:
        claims.claim("ledger-r", SECOND, SOURCE)
    assert str(caught.value).endswith(
        f"which finished but did not give its claim back: delete {store.location(KEY)}"
    )


def test_a_hand_written_claim_naming_no_restore_id_still_explains_itself(
    store: LocalStore, claims: TargetClaims
) -> None:
    store.put(KEY, Claim("../x", "ledger-r", SOURCE, "then").to_bytes())
    with pytest.raises(TargetBusy, match=r"held by restore \.\./x .* which has saved no checkpoint yet"):
        claims.claim("ledger-r", SECOND, SOURCE)


def test_claiming_again_for_the_same_restore_is_a_no_op(claims: TargetClaims) -> None:
    claims.claim("ledger-r", FIRST, SOURCE)
    holder = claims.holder("ledger-r")
    claims.claim("ledger-r", FIRST, SOURCE)
    assert claims.holder("ledger-r") == holder


def test_claims_on_other_targets_are_independent(claims: TargetClaims) -> None:
    claims.claim("ledger-r", FIRST, SOURCE)
    claims.claim("ledger-s", SECOND, SOURCE)
    assert [c.restore_id for c in (claims.holder("ledger-r"), claims.holder("ledger-s")) if c] == [
        FIRST,
        SECOND,
    ]


def test_of_many_restores_claiming_at_once_exactly_one_wins(claims: TargetClaims) -> None:
    ids = [f"20261125T030000Z-{n:08x}" for n in range(8)]
    barrier = threading.Barrier(len(ids))
    won: list[str] = []
    refused: list[str] = []

    def restore(restore_id: str) -> None:
        barrier.wait()
        try:
            claims.claim("ledger-r", restore_id, SOURCE)
            won.append(restore_id)
        except TargetBusy as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=restore, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    holder = claims.holder("ledger-r")
    assert holder is not None
    assert holder.restore_id == won[0]
    assert len(refused) == len(ids) - 1
    assert all(f"is held by restore {won[0]}" in message for message in refused)


def test_release_deletes_only_the_holders_claim(store: LocalStore, claims: TargetClaims) -> None:
    claims.claim("ledger-r", FIRST, SOURCE)
    claims.release("ledger-r", SECOND)
    assert store.exists(KEY), "another restore gave back a claim that is not its own"
    claims.release("ledger-r", FIRST)
    assert not store.exists(KEY)
    claims.release("ledger-r", FIRST)  # already gone: nothing to do
    claims.claim("ledger-r", SECOND, SOURCE)  # free again
    assert store.exists(KEY)


class UndeletableStore(LocalStore):
    def delete(self, keys: Iterable[str]) -> None:
        raise PermissionError("AccessDenied")


def test_a_claim_that_cannot_be_given_back_does_not_fail_the_restore(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    claims = TargetClaims(UndeletableStore(tmp_path), "backups/")
    claims.claim("ledger-r", FIRST, SOURCE)
    claims.release("ledger-r", FIRST)
    assert "could not give back the restore's claim on its target" in caplog.text
    assert claims.holder("ledger-r") is not None


def test_take_over_keeps_the_restores_own_claim(claims: TargetClaims) -> None:
    claims.claim("ledger-r", FIRST, SOURCE)
    holder = claims.holder("ledger-r")
    claims.take_over("ledger-r", FIRST, SOURCE)
    assert claims.holder("ledger-r") == holder


def test_take_over_claims_a_target_whose_claim_is_gone(claims: TargetClaims) -> None:
    claims.take_over("ledger-r", FIRST, SOURCE)
    holder = claims.holder("ledger-r")
    assert holder is not None
    assert holder.restore_id == FIRST


def test_take_over_of_another_restores_claim_refuses_the_resume(
    store: LocalStore, claims: TargetClaims
) -> None:
    claims.claim("ledger-r", FIRST, SOURCE)
    checkpointed(store, FIRST)
    holder = claims.holder("ledger-r")
    assert holder is not None
    with pytest.raises(TargetBusy) as caught:
        claims.take_over("ledger-r", SECOND, SOURCE)
    assert str(caught.value) == f"restore {SECOND} cannot carry on: {busy_message(store, holder)}"


def test_an_unreadable_claim_holds_the_target_and_says_how_to_free_it(
    store: LocalStore, claims: TargetClaims
) -> None:
    store.put(KEY, b"{not json")
    with pytest.raises(
        TargetBusy, match=r"is claimed by an unreadable claim .*: if no restore into it is running"
    ):
        claims.claim("ledger-r", FIRST, SOURCE)
    with pytest.raises(TargetBusy, match=f"delete {store.location(KEY)} and try again"):
        claims.take_over("ledger-r", FIRST, SOURCE)


class FlickeringStore(LocalStore):
    """A claim that someone else creates and gives back between our create and our read, `times` times."""

    def __init__(self, root: Path, times: int) -> None:
        super().__init__(root)
        self.times = times

    def put_new(self, key: str, data: bytes) -> None:
        if self.times > 0:
            self.times -= 1
            raise FileExistsError(key)
        super().put_new(key, data)


def test_a_claim_given_back_meanwhile_is_tried_again(tmp_path: Path) -> None:
    claims = TargetClaims(FlickeringStore(tmp_path, times=2), "backups/")
    claims.claim("ledger-r", FIRST, SOURCE)
    holder = claims.holder("ledger-r")
    assert holder is not None
    assert holder.restore_id == FIRST


def test_a_claim_that_keeps_flickering_is_refused(tmp_path: Path) -> None:
    claims = TargetClaims(FlickeringStore(tmp_path, times=3), "backups/")
    with pytest.raises(TargetBusy, match="was claimed and given back 3 times while restore"):
        claims.claim("ledger-r", FIRST, SOURCE)


class Refused(Exception):
    pass


def test_claimed_gives_the_claim_back_when_the_checks_refuse(store: LocalStore) -> None:
    journal = RestoreJournal(store, "backups/")
    seen: list[bool] = []

    def checks() -> None:
        with claimed(journal, "ledger-r", FIRST, SOURCE):
            seen.append(store.exists(KEY))
            raise Refused

    with pytest.raises(Refused):
        checks()
    assert seen == [True], "the target was not claimed while the checks ran"
    assert not store.exists(KEY)


def test_claimed_keeps_the_claim_when_the_checks_pass(store: LocalStore) -> None:
    journal = RestoreJournal(store, "backups/")
    with claimed(journal, "ledger-r", FIRST, SOURCE):
        pass
    holder = TargetClaims.beside(journal).holder("ledger-r")
    assert holder is not None
    assert holder.restore_id == FIRST


def test_claimed_refuses_before_the_block_runs_when_the_target_is_held(store: LocalStore) -> None:
    journal = RestoreJournal(store, "backups/")
    TargetClaims.beside(journal).claim("ledger-r", FIRST, SOURCE)
    ran = False
    with (
        pytest.raises(TargetBusy, match=f"held by restore {FIRST}"),
        claimed(journal, "ledger-r", SECOND, SOURCE),
    ):
        ran = True
    assert not ran
    holder = TargetClaims.beside(journal).holder("ledger-r")
    assert holder is not None
    assert holder.restore_id == FIRST, "the refused restore gave back the holder's claim"


def test_claimed_without_a_journal_claims_nothing(store: LocalStore) -> None:
    with claimed(None, "ledger-r", FIRST, SOURCE):
        pass
    assert list(store.list_keys("")) == []


def test_take_over_target_answers_a_twins_recorded_result_without_claiming(store: LocalStore) -> None:
    journal = RestoreJournal(store, "backups/")
    result = RestoreResult(SOURCE, "ledger-backup", "ledger-r", True, 10, 1, 99, "backup", 1.0, FIRST, 2)
    journal.finish(FIRST, result.to_json())
    TargetClaims.beside(journal).claim("ledger-r", SECOND, SOURCE)  # a later restore holds it now
    assert take_over_target(journal, progress(FIRST)) == result


def test_take_over_target_takes_the_target_over_when_nothing_is_recorded(store: LocalStore) -> None:
    journal = RestoreJournal(store, "backups/")
    assert take_over_target(journal, progress(FIRST)) is None
    holder = TargetClaims.beside(journal).holder("ledger-r")
    assert holder is not None
    assert holder.restore_id == FIRST
    with pytest.raises(TargetBusy, match=f"restore {SECOND} cannot carry on"):
        take_over_target(journal, progress(SECOND))
