"""A campaign set up over the administration subjects, as an organizer would: the one set-up of
the simulation, the Locust harness and the tests.

The operator creates the organization and its owner; the owner creates the texters, registers
the sending number (drawing again when another organization holds the one drawn, unless a number
was asked for), creates the campaign, makes it active and imports the contacts. Every call goes
through the one client, as whoever would make it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shared.contract import catalogue as api
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError
from shared.contract.schemas import admin
from shared.runtime.client import BatonClient
from shared.runtime.commands.credentials import OPERATOR, SignedAs, User
from shared.runtime.tokens import TokenSigner
from tools.simulation.scenario import fresh_sending_number

# Contacts go in requests of this many (the subject takes at most 5,000).
IMPORT_CHUNK = 5000
# A sending number drawn at random: another organization may hold it; draw again this often.
NUMBER_DRAWS = 20


@dataclass(frozen=True)
class CampaignSpec:
    contacts: Sequence[admin.ContactRow]
    texters: int
    batch_size: int = 300
    replies_batch_size: int | None = None
    self_assign: bool = True
    # Enrolled by the owner at set-up; else they join later, by invite.
    enroll_texters: bool = True
    # "fresh": a random number of its own; None: the campaign has none (the bridge chooses).
    sending_number: str | None = "fresh"
    release_unhandled_after_minutes: int | None = None
    # All day by default: what is handed out must not depend on when it runs.
    texting_hours: admin.TexterHours = field(
        default_factory=lambda: admin.TexterHours(start=0, end=24)
    )
    title: str = "Campaign"
    org_name: str = "Org"


@dataclass(frozen=True)
class CampaignSetup:
    org: int
    owner: int
    texters: list[int]
    campaign: int
    sending_number: str | None


def acting(client: BatonClient, signer: TokenSigner, user: User) -> BatonClient:
    """`client`'s connection, with requests from `user` (a user id, or the operator)."""
    return client.acting_as(SignedAs(signer, user))


async def set_up_campaign(
    client: BatonClient, signer: TokenSigner, spec: CampaignSpec
) -> CampaignSetup:
    as_user: Callable[[User], BatonClient] = lambda user: acting(client, signer, user)  # noqa: E731
    operator = as_user(OPERATOR)
    org = (await operator.call(api.ORG_CREATE, admin.CreateOrg(name=spec.org_name))).org_id
    owner_request = admin.CreateUser(org_id=org, name="Organizer", role="owner")
    owner = (await operator.call(api.USER_CREATE, owner_request)).user_id
    organizer = as_user(owner)
    texters = []
    for i in range(spec.texters):
        texter = admin.CreateUser(org_id=org, name=f"Texter {i}", role="texter")
        texters.append((await organizer.call(api.USER_CREATE, texter)).user_id)
    number = await _sending_number(organizer, org, spec.sending_number)
    created = await organizer.call(
        api.CAMPAIGN_CREATE,
        admin.CreateCampaign(
            org_id=org,
            title=spec.title,
            sending_number=number,
            texting_hours=spec.texting_hours,
        ),
    )
    campaign = created.campaign_id
    update = admin.UpdateCampaign(
        campaign_id=campaign,
        status="active",
        self_assign=spec.self_assign,
        batch_size=spec.batch_size,
        release_unhandled_after_minutes=spec.release_unhandled_after_minutes,
    )
    if spec.replies_batch_size is not None:
        update.replies_batch_size = spec.replies_batch_size
    await organizer.call(api.CAMPAIGN_UPDATE, update)
    if spec.enroll_texters and texters:
        enroll = admin.CampaignTexters(campaign_id=campaign, user_ids=texters)
        await organizer.call(api.CAMPAIGN_TEXTERS_ADD, enroll)
    for start in range(0, len(spec.contacts), IMPORT_CHUNK):
        rows = list(spec.contacts[start : start + IMPORT_CHUNK])
        result = await organizer.call(
            api.CONTACTS_IMPORT, admin.ImportContacts(campaign_id=campaign, contacts=rows)
        )
        if result.rejected:
            raise ValueError(f"contacts refused at set-up: {result.rejected[:3]}")
    return CampaignSetup(org, owner, texters, campaign, number)


async def _sending_number(organizer: BatonClient, org: int, wanted: str | None) -> str | None:
    if wanted is None:
        return None
    draws = NUMBER_DRAWS if wanted == "fresh" else 1  # a number asked for is not drawn again
    for attempt in range(1, draws + 1):
        number = fresh_sending_number() if wanted == "fresh" else wanted
        try:
            await organizer.call(
                api.ORG_NUMBERS_ADD, admin.AddOrgNumbers(org_id=org, numbers=[number])
            )
        except BatonError as refusal:
            if refusal.code != ErrorCode.CONFLICT or attempt == draws:
                raise  # not "another organization holds it", or no draws left
            continue
        return number
    raise AssertionError("unreachable: the last draw returns or raises")
