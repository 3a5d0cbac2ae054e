"""Who may do what: organization roles ranked owner > admin > moderator > texter.

Every service that changes something on someone's behalf checks here, with the same ranks.
"""

from __future__ import annotations

from shared.database import Connection
from shared.errors import forbidden, not_found
from shared.queries import load_queries

QUERIES = load_queries("shared", "permissions.sql")
RANK = {"texter": 1, "moderator": 2, "admin": 3, "owner": 4}


def allows(role: str | None, minimum: str) -> bool:
    return role is not None and RANK[role] >= RANK[minimum]


async def role_in(conn: Connection, org_id: int, user_id: int) -> str | None:
    role: str | None = await conn.fetchval(QUERIES["member_role"], org_id, user_id)
    return role


async def require_role(conn: Connection, org_id: int, actor_id: int, minimum: str) -> str:
    role = await role_in(conn, org_id, actor_id)
    if not allows(role, minimum):
        raise forbidden(f"this needs the {minimum} role or higher in organization {org_id}")
    assert role is not None
    return role


async def require_campaign_role(
    conn: Connection, campaign_id: int, actor_id: int, minimum: str
) -> int:
    """Check the actor's role in the campaign's organization; return that organization."""
    org_id: int | None = await conn.fetchval(QUERIES["campaign_org"], campaign_id)
    if org_id is None:
        raise not_found("campaign", campaign_id)
    await require_role(conn, org_id, actor_id, minimum)
    return org_id
