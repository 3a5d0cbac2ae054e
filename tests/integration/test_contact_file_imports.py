"""`baton.admin.contacts.import` with `file`: parts staged under an import id, imported together by
the commit or not at all; and `fields` nested too deep or holding a NUL is a `bad_request` naming
the field, never `internal`, on both kinds of import."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest

from shared.contract import catalogue as api
from shared.contract.errors import BatonError
from tests.support.baton_client import Baton, auth_headers, campaign_with_texters
from tests.support.snapshots import snapshot
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

IMPORT = api.CONTACTS_IMPORT.subject


def contacts(start: int, count: int) -> list[dict[str, Any]]:
    return [{"phone": f"+1650{3000000 + n:07d}", "first_name": f"C{n}"}
            for n in range(start, start + count)]  # fmt: skip


def nested(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


async def part(
    assigner: Baton, c: dict[str, Any], import_id: str, rows: int, first_row: int,
    items: list[dict[str, Any]], step: str = "stage", *, as_user: int | None = None,
    refused: bool = False,
) -> Any:  # fmt: skip
    """One part of the file import `import_id` as `as_user` (the owner); with `refused`, one that
    must be refused, and its refusal."""
    send = assigner.error if refused else assigner.call
    return await send(IMPORT, as_user=as_user or c["owner"], campaign_id=c["campaign"],
                      contacts=items, file={"import_id": import_id, "rows": rows,
                                            "first_row": first_row, "step": step})  # fmt: skip


async def refused(*args: Any, **kwargs: Any) -> BatonError:
    error: BatonError = await part(*args, **kwargs, refused=True)
    return error


async def count(pool: asyncpg.Pool, table: str) -> int:
    found: int = await pool.fetchval(f"SELECT count(*) FROM {table}")
    return found


async def deep_request(
    assigner: Baton, c: dict[str, Any], depth: int, file: dict[str, Any] | None
) -> dict[str, Any]:
    """`fields` nested `depth` deep, written out by hand: no JSON encoder goes that deep."""
    deep = '{"a":' * depth + '"x"' + "}" * depth
    body = (f'{{"campaign_id":{c["campaign"]},"contacts":[{{"phone":"+16505550100"}},'
            f'{{"phone":"+16505550101","fields":{{"deep":{deep}}}}}]'
            + (f',"file":{json.dumps(file)}' if file else "") + "}")  # fmt: skip
    reply = await assigner.nc.request(IMPORT, body.encode(), timeout=10,
                                      headers=auth_headers(c["owner"]))  # fmt: skip
    answer: dict[str, Any] = json.loads(reply.data)
    return answer


async def test_fields_nested_too_deep_or_holding_a_nul_are_a_bad_request_naming_the_field(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    before = await snapshot(pool)
    file = {"import_id": str(uuid.uuid4()), "rows": 2, "first_row": 0}
    for sent in (None, file):
        for depth in (4, 1_000, 100_000):  # a thousand levels used to be `internal`
            answer = await deep_request(assigner, c, depth, sent)
            assert answer["error"]["code"] == "bad_request", (depth, answer)
            assert "contacts[1].fields" in answer["error"]["message"]
        # A NUL as deep as `fields` may go, in a value or in a key.
        extra = {"file": sent} if sent else {}
        for fields, where in ((nested(3, "a\u0000b"), "contacts[0].fields.a.a.a"),
                              ({"k\u0000": 1}, "contacts[0].fields.(a key)")):  # fmt: skip
            error = await assigner.error(IMPORT, as_user=c["owner"], campaign_id=c["campaign"],
                                         contacts=[{"phone": "+16505550100", "fields": fields}],
                                         **extra)  # fmt: skip
            assert (error.code, error.details) == ("bad_request", {"field": where})
    assert await snapshot(pool) == before

    # As deep as it may go, lists included, is stored as sent.
    fields = {"a": {"b": {"c": 1}}, "l": [[1, "two", None]], "m": [{"n": True}]}
    result = await assigner.call(IMPORT, as_user=c["owner"], campaign_id=c["campaign"],
                                 contacts=[{"phone": "+16505550100", "fields": fields}])  # fmt: skip
    assert result["imported"] == 1
    stored = await pool.fetchval("SELECT fields FROM contact WHERE phone = '+16505550100'")
    assert json.loads(stored) == fields


async def test_parts_are_imported_only_by_the_commit_and_each_only_once(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    import_id = str(uuid.uuid4())
    first = await part(assigner, c, import_id, 250, 0, contacts(0, 100))
    assert (first["staged"], first["imported"]) == (100, 0)
    # The same part again (a retry whose first answer was lost) stages nothing new.
    assert (await part(assigner, c, import_id, 250, 0, contacts(0, 100)))["staged"] == 100
    await part(assigner, c, import_id, 250, 100, contacts(100, 100))
    assert await count(pool, "contact") == 0  # staged, not imported
    # A part overlapping another, past the end, or with another row count is refused.
    assert (await refused(assigner, c, import_id, 250, 150, contacts(0, 100))).code == "conflict"
    error = await refused(assigner, c, import_id, 250, 200, contacts(0, 51))
    assert (error.code, error.details) == ("bad_request", {"field": "file.first_row"})
    error = await refused(assigner, c, import_id, 300, 200, contacts(200, 50))
    assert (error.code, error.details) == ("bad_request", {"field": "file.rows"})
    # The commit waits for every row of the file: 200 of 250 is not enough, and changes nothing.
    before = await snapshot(pool)
    error = await refused(assigner, c, import_id, 250, 250, [], "commit")
    assert (error.code, error.details) == ("conflict", {"staged": 200, "rows": 250})
    assert await snapshot(pool) == before

    # The last part commits: all 250 rows at once.
    result = await part(assigner, c, import_id, 250, 200, contacts(200, 50), "commit")
    assert result == {"imported": 250, "duplicates": 0, "rejected": []}
    assert await count(pool, "contact") == await count(pool, "conversation") == 250
    assert await count(pool, "contact_file_row") == 0
    # A commit sent again answers as the first did and imports nothing twice.
    assert await part(assigner, c, import_id, 250, 200, contacts(200, 50), "commit") == result
    assert await count(pool, "contact") == 250
    # Nothing more can be staged under it, and it can no longer be aborted.
    assert (await refused(assigner, c, import_id, 250, 0, contacts(0, 1))).code == "conflict"
    assert (await refused(assigner, c, import_id, 250, 0, [], "abort")).code == "conflict"


async def test_an_abort_drops_every_part_and_an_unknown_import_takes_no_parts(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    before = await snapshot(pool)
    import_id = str(uuid.uuid4())
    await part(assigner, c, import_id, 20, 0, contacts(0, 10))
    assert await count(pool, "contact_file_row") == 10
    assert (await part(assigner, c, import_id, 20, 0, [], "abort"))["imported"] == 0
    assert await snapshot(pool) == before
    # An abort sent again is still fine; a part or a commit after it finds no import.
    await part(assigner, c, import_id, 20, 0, [], "abort")
    assert (await refused(assigner, c, import_id, 20, 10, contacts(10, 10))).code == "not_found"
    assert (await refused(assigner, c, import_id, 20, 20, [], "commit")).code == "not_found"
    # Only a part starting at row 0 starts an import.
    assert (await refused(assigner, c, str(uuid.uuid4()), 20, 10, [], "commit")).code == (
        "not_found"
    )
    error = await assigner.error(IMPORT, as_user=c["owner"], campaign_id=c["campaign"],
                                 contacts=[{"phone": "+16505550100"}],
                                 file={"import_id": str(uuid.uuid4()), "rows": 1,
                                       "step": "abort"})  # fmt: skip
    assert (error.code, error.details) == ("bad_request", {"field": "contacts"})
    assert await snapshot(pool) == before


async def test_only_who_started_an_import_adds_to_it_and_a_busy_one_says_so(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    other = await campaign_with_texters(assigner, texters=0, contacts=0)
    colleague = (await assigner.call(api.USER_CREATE, as_user=c["owner"], org_id=c["org"],
                                     name="Mod", role="moderator"))["user_id"]  # fmt: skip
    texter = (await assigner.call(api.USER_CREATE, as_user=c["owner"], org_id=c["org"],
                                  name="Tex", role="texter"))["user_id"]  # fmt: skip
    import_id = str(uuid.uuid4())
    await part(assigner, c, import_id, 20, 0, contacts(0, 10))
    before = await snapshot(pool)
    # Another moderator of the organization, or the owner of another one: as if it did not exist.
    for step, first_row in (("stage", 10), ("commit", 10), ("stage", 0)):
        error = await refused(assigner, c, import_id, 20, first_row, contacts(10, 10), step,
                              as_user=colleague)  # fmt: skip
        assert error.code == "not_found" and "import" in error.message, step
        error = await assigner.error(IMPORT, as_user=other["owner"], campaign_id=other["campaign"],
                                     contacts=[], file={"import_id": import_id, "rows": 20,
                                                        "first_row": 10, "step": step})  # fmt: skip
        assert error.code == "not_found", step
    # A texter may not import at all.
    error = await refused(assigner, c, import_id, 20, 10, contacts(10, 10), as_user=texter)
    assert error.code == "forbidden"
    assert await snapshot(pool) == before

    # While another request holds the import, a part is told to ask again instead of waiting.
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM contact_file_import WHERE id = $1 FOR UPDATE",
                           uuid.UUID(import_id))  # fmt: skip
        assert (await refused(assigner, c, import_id, 20, 10, contacts(10, 10))).code == "busy"
    result = await part(assigner, c, import_id, 20, 10, contacts(10, 10), "commit")
    assert result["imported"] == 20


async def test_an_import_untouched_for_a_day_is_swept_by_the_next_one(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    abandoned, committed = str(uuid.uuid4()), str(uuid.uuid4())
    await part(assigner, c, abandoned, 20, 0, contacts(0, 10))
    await part(assigner, c, committed, 1, 0, contacts(50, 1), "commit")
    await pool.execute("UPDATE contact_file_import SET touched_at = now() - interval '25 hours'")
    fresh = str(uuid.uuid4())
    await part(assigner, c, fresh, 20, 0, contacts(0, 10))
    remaining = await pool.fetch("SELECT id::text FROM contact_file_import")
    assert [r["id"] for r in remaining] == [fresh]
    assert await count(pool, "contact_file_row") == 10
    # The abandoned import's later parts find nothing to add to: it is never half committed.
    assert (await refused(assigner, c, abandoned, 20, 10, contacts(10, 10), "commit")).code == (
        "not_found"
    )


async def test_parts_are_staged_side_by_side_and_the_commit_waits_for_none_of_them(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    import_id = str(uuid.uuid4())
    await part(assigner, c, import_id, 500, 0, contacts(0, 100))
    # A part still being staged (its transaction open) keeps no other part out...
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM contact_file_import WHERE id = $1 FOR KEY SHARE",
                           uuid.UUID(import_id))  # fmt: skip
        sending = [part(assigner, c, import_id, 500, first, contacts(first, 100))
                   for first in (100, 200, 300)]  # fmt: skip
        staged = await asyncio.gather(*sending)
        assert sorted(s["staged"] for s in staged) == [200, 300, 400]
        # ...but the commit (and an abort) is told to ask again, and changes nothing.
        before = await snapshot(pool)
        assert (await refused(assigner, c, import_id, 500, 400, contacts(400, 100),
                              "commit")).code == "busy"  # fmt: skip
        assert (await refused(assigner, c, import_id, 500, 0, [], "abort")).code == "busy"
        assert await snapshot(pool) == before
    result = await part(assigner, c, import_id, 500, 400, contacts(400, 100), "commit")
    assert result == {"imported": 500, "duplicates": 0, "rejected": []}
    phones = await pool.fetch("SELECT phone FROM contact ORDER BY id")
    assert [r["phone"] for r in phones] == [row["phone"] for row in contacts(0, 500)]


async def test_a_part_sent_again_while_its_first_sending_is_staged_is_busy_then_adds_nothing(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    import_id = str(uuid.uuid4())
    await part(assigner, c, import_id, 20, 0, contacts(0, 10))
    # The first sending of rows 10..19, staged and not yet committed.
    async with pool.acquire() as first_sending, first_sending.transaction():
        await first_sending.execute(
            "INSERT INTO contact_file_row (import_id, row_no, phone, first_name, last_name, fields)"
            " SELECT $1, n, '+1650300' || lpad(n::text, 4, '0'), 'C', '', '{}'"
            " FROM generate_series(10, 19) n", uuid.UUID(import_id),
        )  # fmt: skip
        await first_sending.execute(
            "UPDATE contact_file_import SET staged = staged + 10 WHERE id = $1",
            uuid.UUID(import_id),
        )
        again = asyncio.create_task(refused(assigner, c, import_id, 20, 10, contacts(10, 10)))
        # The second sending finds no rows staged (the first is not committed) and waits on them.
        await eventually(lambda: waiting_on_a_lock(pool))
    # The first sending commits as the block ends.
    assert (await again).code == "busy"
    # Asked again, it finds its rows staged by the first sending and adds nothing.
    assert (await part(assigner, c, import_id, 20, 10, contacts(10, 10)))["staged"] == 20
    result = await part(assigner, c, import_id, 20, 20, [], "commit")
    assert result == {"imported": 20, "duplicates": 0, "rejected": []}
    assert await count(pool, "conversation") == 20


async def waiting_on_a_lock(pool: asyncpg.Pool) -> bool:
    waiting: int = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND query LIKE 'COPY%contact_file_row%'"
    )
    return waiting > 0
