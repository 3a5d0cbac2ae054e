"""Identity on every subject, driven from the list of subjects the services serve:

- no token, a forged one, `alg: none`, an expired and a not-yet-valid token: `unauthenticated`,
  and nothing changes in Postgres;
- the role x subject matrix, checked against the "who may call" table of docs/api.md;
- another organization's ids: `not_found`, worded exactly as for an id that does not exist,
  and nothing changes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import jwt
import pytest

from shared.contract import catalogue as api
from shared.contract.access_policy import RANK
from shared.contract.catalogue import ROUTES
from shared.runtime.tokens import TokenSigner
from tests.support.baton_client import (
    OPERATOR,
    SIGNER,
    TEST_AUTH_SECRET,
    Baton,
    Caller,
    campaign_with_texters,
    request_args,
)
from tests.support.snapshots import snapshot

pytestmark = pytest.mark.integration

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
GUARDED = [e.subject for e in ROUTES if not e.access.public]
ROLES = ("texter", "moderator", "admin", "owner")
# What an allowed caller may still be told: the request was theirs to make, the answer is "no".
BUSINESS_REFUSALS = {
    "conflict", "not_a_member", "initials_pending", "replies_pending", "no_more_conversations",
    "assignment_changed", "already_sent", "initial_not_sent", "outside_texting_hours",
    "confirmation_required", "self_assign_disabled", "campaign_not_active",
}  # fmt: skip
MISSING = 10**12


def documented_minimum() -> dict[str, str]:
    """subject -> "operator", or the least role, read from docs/api.md's who-may-call column."""
    table = re.findall(r"^\| `([a-z_.]+)` \| \w+ \| ([^|]+) \| (?:yes|no) \|$", API_MD.read_text(),
                       re.M)  # fmt: skip
    minimum = {}
    for subject, who in table:
        if who.startswith("anyone"):
            continue
        named = re.search(r"(owner|admin|moderator) or higher", who.split(";")[0])
        if named:
            minimum[subject] = named.group(1)
        elif re.match(r"any (member|user)", who):
            minimum[subject] = "texter"
        else:
            assert who.split(";")[0].strip() == "operator", who
            minimum[subject] = "operator"
    return minimum


async def world(assigner: Baton, sender: Baton) -> dict[str, Any]:
    """An organization with one person of each role, an active campaign whose texter holds
    conversations, a team and an invite link."""
    c = await campaign_with_texters(assigner, texters=1, contacts=6, batch_size=2)
    owner, org, campaign = c["owner"], c["org"], c["campaign"]
    for role in ("admin", "moderator"):
        c[role] = (await assigner.call(api.USER_CREATE, as_user=owner, org_id=org,
                                       name=role, role=role))["user_id"]  # fmt: skip
    c["texter"] = c["texters"][0]
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=owner, campaign_id=campaign,
                        texting_hours={"start": 0, "end": 24})  # fmt: skip
    held = await assigner.call(api.ASSIGN_REQUEST, as_user=c["texter"], campaign_id=campaign)
    c["held"] = held["conversation_ids"][0]
    c["team"] = (await assigner.call(api.TEAM_CREATE, as_user=owner, org_id=org,
                                     name="East"))["team_id"]  # fmt: skip
    c["token"] = (await assigner.call(api.CAMPAIGN_INVITE, as_user=owner,
                                      campaign_id=campaign, kind="initials"))["token"]  # fmt: skip
    # A texter whose request waits for approval (issue #33).
    waiting = (await assigner.call(api.USER_CREATE, as_user=owner, org_id=org,
                                   name="waiting", role="texter"))["user_id"]  # fmt: skip
    await assigner.call(api.CAMPAIGN_TEXTERS_ADD, as_user=owner, campaign_id=campaign,
                        user_ids=[waiting])  # fmt: skip
    await assigner.call(api.ORG_MEMBERS_UPDATE, as_user=owner, org_id=org, user_id=waiting,
                        request_level="approval_required")  # fmt: skip
    c["request"] = (await assigner.call(api.ASSIGN_REQUEST, as_user=waiting,
                                        campaign_id=campaign))["request_id"]  # fmt: skip
    # A complete export (issue #33), finished before any snapshot is taken.
    export = await assigner.call(api.CAMPAIGN_EXPORT, as_user=owner, campaign_id=campaign,
                                 kind="conversations")  # fmt: skip
    c["export"] = export["export_id"]
    while export["state"] == "running":
        await asyncio.sleep(0.05)
        export = await assigner.call(api.CAMPAIGN_EXPORT_READ, as_user=owner,
                                     export_id=c["export"])  # fmt: skip
    assert export["state"] == "complete", export
    return c


def requests(w: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A well-formed request on every guarded subject, naming `w`'s things."""
    campaign, org, texter = w["campaign"], w["org"], w["texter"]
    send = {"conversation_id": w["held"], "body": "Hi", "idempotency_key": str(uuid.uuid4())}
    return {
        api.ORG_CREATE.subject: {"name": "New"},
        api.ORG_UPDATE.subject: {"org_id": org, "default_batch_size": 10},
        api.ORG_NUMBERS_ADD.subject: {"org_id": org, "numbers": ["+14155550177"]},
        api.ORG_NUMBERS_REMOVE.subject: {"org_id": org, "numbers": ["+14155550178"]},
        api.ORG_NUMBERS.subject: {"org_id": org},
        api.ORG_READ.subject: {"org_id": org},
        api.CAMPAIGN_READ.subject: {"campaign_id": campaign},
        api.USER_CREATE.subject: {"org_id": org, "name": "X", "role": "texter"},
        api.ORG_MEMBERS_REMOVE.subject: {"org_id": org, "user_id": texter},
        api.ORG_MEMBERS_UPDATE.subject: {"org_id": org, "user_id": texter,
                                         "request_level": "approval_required"},
        api.ORG_MEMBERS.subject: {"org_id": org},
        api.TEAM_CREATE.subject: {"org_id": org, "name": f"T{uuid.uuid4().hex[:6]}"},
        api.TEAM_ADD_MEMBERS.subject: {"team_id": w["team"], "user_ids": [texter]},
        api.CAMPAIGN_CREATE.subject: {"org_id": org, "title": "C"},
        api.CAMPAIGN_UPDATE.subject: {"campaign_id": campaign, "batch_size": 10},
        api.CAMPAIGN_TEXTERS_ADD.subject: {"campaign_id": campaign, "user_ids": [texter]},
        api.CAMPAIGN_TEXTERS_REMOVE.subject: {"campaign_id": campaign, "user_ids": [texter]},
        api.CAMPAIGN_INVITE.subject: {"campaign_id": campaign, "kind": "initials"},
        api.CAMPAIGN_INVITE_REVOKE.subject: {"token": w["token"]},
        api.CONTACTS_IMPORT.subject: {"campaign_id": campaign,
                                        "contacts": [{"phone": "+16505550199"}]},
        api.CAMPAIGN_STATS.subject: {"campaign_id": campaign},
        api.CONVERSATIONS.subject: {"campaign_id": campaign},
        api.ASSIGN_REQUEST.subject: {"campaign_id": campaign},
        api.ASSIGN_JOIN.subject: {"token": w["token"]},
        api.REASSIGN.subject: {"campaign_id": campaign, "status": "any",
                                  "to_texter_ids": [texter]},
        api.MOVE.subject: {"conversation_id": w["held"], "to_texter_id": texter},
        api.RELEASE.subject: {"campaign_id": campaign},
        api.SEND_INITIAL.subject: send,
        api.SEND_REPLY.subject: {**send, "idempotency_key": str(uuid.uuid4())},
        api.SEND_OPT_OUT.subject: {"conversation_id": w["held"]},
        api.RELEASE_UNHANDLED.subject: {"campaign_id": campaign},
        api.RELEASE_STALE_INITIALS.subject: {"campaign_id": campaign,
                                               "held_longer_than_hours": 1},
        api.ASSIGNMENT_REQUESTS.subject: {"org_id": org, "status": "pending"},
        api.ASSIGNMENT_REQUESTS_RESOLVE.subject: {"request_id": w["request"], "approve": False},
        api.ORG_CAMPAIGNS.subject: {"org_id": org},
        api.ORG_TEAMS.subject: {"org_id": org},
        api.CAMPAIGN_INVITES.subject: {"campaign_id": campaign},
        api.CAMPAIGN_EXPORT.subject: {"campaign_id": campaign, "kind": "messages"},
        api.CAMPAIGN_EXPORT_READ.subject: {"export_id": w["export"]},
        api.CAMPAIGN_EXPORT_PART.subject: {"export_id": w["export"]},
        api.TEAM_UPDATE.subject: {"team_id": w["team"], "assignment_priority": 5},
    }  # fmt: skip


def test_every_guarded_subject_is_covered_here_and_documented() -> None:
    assert GUARDED and set(GUARDED) == set(requests(_placeholders())) == set(documented_minimum())


def _placeholders() -> dict[str, Any]:
    return dict.fromkeys(
        ("campaign", "org", "texter", "held", "team", "token", "request", "export"), 1
    )


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


BAD_TOKENS: dict[str, Callable[[int], str | None]] = {
    "none": lambda _: None,
    "forged": lambda user: TokenSigner.from_secret("x" * 40).mint(user),
    "alg-none": lambda user: ".".join(
        [
            _b64({"alg": "none", "typ": "JWT"}),
            _b64({"sub": str(user), "exp": time.time() + 600}),
            "",
        ]
    ),
    "expired": lambda user: SIGNER.mint(user, ttl_seconds=-3600),
    "not-yet-valid": lambda user: SIGNER.mint(user, not_before=time.time() + 3600),
    "other-algorithm": lambda user: jwt.encode(
        {"sub": str(user), "exp": time.time() + 600}, TEST_AUTH_SECRET + "x" * 30, "HS512"
    ),
}


async def test_no_or_a_bad_token_is_unauthenticated_on_every_subject_and_changes_nothing(
    assigner: Baton, sender: Baton, reaper: Baton, pool: asyncpg.Pool
) -> None:
    w = await world(assigner, sender)
    before = await snapshot(pool)
    for subject, payload in requests(w).items():
        for kind, bad in BAD_TOKENS.items():
            token = bad(w["owner"])
            headers = None if token is None else {"Authorization": f"Bearer {token}"}
            reply = await assigner.nc.request(
                subject, json.dumps(payload).encode(), timeout=10, headers=headers
            )
            body = json.loads(reply.data)
            assert body["error"]["code"] == "unauthenticated", (subject, kind, body)
            assert body["error"]["message"] == "a valid bearer token is required"
    assert await snapshot(pool) == before


async def test_the_role_matrix_is_what_docs_api_md_says(
    assigner: Baton, sender: Baton, reaper: Baton, pool: asyncpg.Pool
) -> None:
    minimum = documented_minimum()
    for subject in GUARDED:
        # A fresh organization per subject: what an allowed call changes touches no other row.
        w = await world(assigner, sender)
        for caller in (OPERATOR, *ROLES):
            needed = minimum[subject]
            allowed = caller == needed if OPERATOR in (caller, needed) else (
                RANK[caller] >= RANK[needed])  # fmt: skip
            as_user: Caller = OPERATOR if caller == OPERATOR else w[caller]
            before = await snapshot(pool)
            try:
                await assigner.call(subject, as_user=as_user, **requests(w)[subject])
                outcome = "ok"
            except Exception as refusal:
                outcome = getattr(refusal, "code", repr(refusal))
            if allowed:
                assert outcome == "ok" or outcome in BUSINESS_REFUSALS, (subject, caller, outcome)
            else:
                assert outcome == "forbidden", (subject, caller, outcome)
                assert await snapshot(pool) == before, (subject, caller)


async def test_the_operator_creates_only_organizations_and_their_first_owner(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    org = (await assigner.call(api.ORG_CREATE, as_user=OPERATOR, name="New"))["org_id"]
    first = await assigner.call(api.USER_CREATE, as_user=OPERATOR, org_id=org,
                                name="Founder", role="texter")  # fmt: skip
    assert await pool.fetchval("SELECT role FROM organization_member WHERE user_id = $1",
                               first["user_id"]) == "owner"  # fmt: skip
    refusal = await assigner.error(api.USER_CREATE, as_user=OPERATOR, org_id=org,
                                   name="Second", role="owner")  # fmt: skip
    assert refusal.code == "forbidden"
    # A user, even an owner, cannot create organizations.
    refusal = await assigner.error(api.ORG_CREATE, as_user=first["user_id"], name="Mine")
    assert refusal.code == "forbidden"


def _without(text: str, *ids: object) -> str:
    for identifier in ids:
        text = text.replace(str(identifier), "<id>")
    return text


def _missing(payload: dict[str, Any]) -> dict[str, Any]:
    """The same request naming things that do not exist."""
    named = {"org_id", "campaign_id", "team_id", "conversation_id", "request_id", "export_id"}
    missing = {k: MISSING if k in named else v for k, v in payload.items()}
    if "token" in missing:
        missing["token"] = "no-such-invite-token"
    return missing


async def test_another_organizations_ids_are_not_found_as_if_they_did_not_exist(
    assigner: Baton, sender: Baton, reaper: Baton, pool: asyncpg.Pool
) -> None:
    w = await world(assigner, sender)
    other = await world(assigner, sender)  # its owner is the outsider
    outsider = other["owner"]
    before = await snapshot(pool)
    # Joining by invite link is how a user enters another organization: not an id to guard.
    aimed = {s: r for s, r in requests(w).items()
             if s not in (api.ORG_CREATE.subject, api.ASSIGN_JOIN.subject)}  # fmt: skip
    for subject, payload in aimed.items():
        refusal = await assigner.error(subject, as_user=outsider, **payload)
        absent = await assigner.error(subject, as_user=outsider, **_missing(payload))
        assert refusal.code == absent.code == "not_found", (subject, refusal.code, absent.code)
        ids = [v for k, v in payload.items() if k in ("org_id", "campaign_id", "team_id",
                                                       "conversation_id", "token",
                                                       "request_id", "export_id")]  # fmt: skip
        assert _without(refusal.message, *ids) == _without(
            absent.message, MISSING, "no-such-invite-token"
        ), subject
        assert refusal.details == absent.details, subject
    assert await snapshot(pool) == before


async def test_a_texter_acts_only_as_themself(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool
) -> None:
    w = await world(assigner, sender)
    second = (await assigner.call(api.USER_CREATE, as_user=w["owner"], org_id=w["org"],
                                  name="Second", role="texter"))["user_id"]  # fmt: skip
    await assigner.call(api.CAMPAIGN_TEXTERS_ADD, as_user=w["owner"],
                        campaign_id=w["campaign"], user_ids=[second])  # fmt: skip
    # The payload cannot name the caller any more: the old fields are unknown, so refused.
    for subject, extra in ((api.ASSIGN_REQUEST.subject, {"texter_id": w["texter"]}),
                           (api.ORG_UPDATE.subject, {"actor_id": w["owner"]})):  # fmt: skip
        payload = {**requests(w)[subject], **extra}
        assert (await assigner.error(subject, as_user=second, **payload)).code == "bad_request"
    # Another texter of the same campaign cannot send in, or release, what the first one holds.
    refusal = await sender.error(
        api.SEND_INITIAL, as_user=second, **requests(w)[api.SEND_INITIAL.subject]
    )
    assert refusal.code == "assignment_changed"
    await assigner.call(api.RELEASE, as_user=second, campaign_id=w["campaign"])
    holder = await pool.fetchval("SELECT assignee_id FROM conversation WHERE id = $1", w["held"])
    assert holder == w["texter"]
    # The event log names the caller the token named.
    await assigner.call(api.MOVE, as_user=w["moderator"], conversation_id=w["held"],
                        to_texter_id=second)  # fmt: skip
    actor = await pool.fetchval(
        "SELECT actor_id FROM assignment_move WHERE conversation_id = $1 ORDER BY event_id DESC LIMIT 1",
        w["held"],
    )
    assert actor == w["moderator"]


async def test_joining_by_invite_enrolls_the_caller_only(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool
) -> None:
    w = await world(assigner, sender)
    other = await world(assigner, sender)
    newcomer = other["owner"]  # an owner elsewhere joins this campaign as a texter
    joined = await assigner.call(api.ASSIGN_JOIN, as_user=newcomer, token=w["token"])
    assert joined["campaign_id"] == w["campaign"]
    roles = await pool.fetch("SELECT org_id, role FROM organization_member WHERE user_id = $1",
                             newcomer)  # fmt: skip
    assert {(r["org_id"], r["role"]) for r in roles} == {
        (other["org"], "owner"),
        (w["org"], "texter"),
    }
    # Naming somebody else is not possible: the field is gone.
    refusal = await assigner.error(api.ASSIGN_JOIN, as_user=newcomer, token=w["token"],
                                   texter_id=w["owner"])  # fmt: skip
    assert refusal.code == "bad_request"
    # A token for a user who does not exist enrolls nobody.
    assert (await assigner.error(api.ASSIGN_JOIN, as_user=MISSING,
                                 token=w["token"])).code == "not_found"  # fmt: skip


async def test_answers_carry_no_token_back(assigner: Baton, sender: Baton) -> None:
    """A reply is the envelope alone: the request's headers (its bearer token) stay with it."""
    w = await world(assigner, sender)
    for subject, payload in [*list(requests(w).items())[:3], (api.STATUS["assigner"].subject, {})]:
        reply = await assigner.nc.request(subject, timeout=10, **request_args(w["owner"], payload))
        assert not reply.headers or "Authorization" not in reply.headers, subject


async def test_a_texter_removed_from_the_campaign_cannot_text_what_they_still_hold(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool
) -> None:
    w = await world(assigner, sender)
    await assigner.call(api.CAMPAIGN_TEXTERS_REMOVE, as_user=w["owner"],
                        campaign_id=w["campaign"], user_ids=[w["texter"]])  # fmt: skip
    send = requests(w)[api.SEND_INITIAL.subject]
    refusal = await sender.error(api.SEND_INITIAL, as_user=w["texter"], **send)
    assert refusal.code == "not_a_member"
    assert await pool.fetchval("SELECT count(*) FROM message") == 0
