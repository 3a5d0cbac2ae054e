"""With a provider bridge, baton.admin.org.numbers.add takes only numbers the provider account
holds (issue #31): the bridge reads the account's numbers (Twilio's IncomingPhoneNumbers, from the
simulator) into Postgres, and the assigner refuses any other with `bad_request` naming it."""

from __future__ import annotations

import asyncpg
import pytest

from services.bridge.service import DEFINITION as BRIDGE
from shared.contract import catalogue as api
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import Baton, campaign_with_texters
from tests.support.bridge import bridge_settings
from tests.support.services import running
from tests.support.waiting import eventually
from tools.simulation.twilio_simulator import TwilioSimulator

pytestmark = pytest.mark.integration
HELD, NOT_HELD = "+14155550170", "+14155550171"


async def test_a_number_the_provider_account_does_not_hold_is_refused_by_name(
    assigner: Baton, settings: CommonSettings, pool: asyncpg.Pool, simulator: TwilioSimulator
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=1)
    # No bridge yet: first come, first served, as before.
    await assigner.call(api.ORG_NUMBERS_ADD, as_user=c["owner"], org_id=c["org"],
                        numbers=["+14155550179"])  # fmt: skip
    simulator.held_numbers = {HELD}
    own = bridge_settings(settings, simulator, bridge_numbers_sync_seconds=0.2)
    async with running(BRIDGE, own):

        async def read() -> bool:
            return bool(await pool.fetchval("SELECT count(*) = 1 FROM provider_number"))

        assert await eventually(read)
        refused = await assigner.error(api.ORG_NUMBERS_ADD, as_user=c["owner"], org_id=c["org"],
                                       numbers=[HELD, NOT_HELD])  # fmt: skip
        assert refused.code == "bad_request"
        assert NOT_HELD in refused.message and HELD not in refused.message
        owned = "SELECT phone FROM sending_number WHERE org_id = $1 ORDER BY phone"
        assert [r["phone"] for r in await pool.fetch(owned, c["org"])] == ["+14155550179"]
        added = await assigner.call(api.ORG_NUMBERS_ADD, as_user=c["owner"], org_id=c["org"],
                                    numbers=[HELD])  # fmt: skip
        assert added["numbers"] == [HELD, "+14155550179"]
        # Bought at the provider: taken from the bridge's next read on.
        simulator.held_numbers.add(NOT_HELD)

        async def both_read() -> bool:
            return bool(await pool.fetchval("SELECT count(*) = 2 FROM provider_number"))

        assert await eventually(both_read)
        added = await assigner.call(api.ORG_NUMBERS_ADD, as_user=c["owner"], org_id=c["org"],
                                    numbers=[NOT_HELD])  # fmt: skip
        assert NOT_HELD in added["numbers"]
