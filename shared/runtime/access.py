"""Who may call what: each subject's `Access` is declared in shared/contract/catalogue.py; the
request layer and handlers enforce it.

Two checks, in two places, from one declaration:
1. The request layer (shared/runtime/endpoints.py) verifies the bearer token and checks the kind of
   caller: the operator (creates organizations and their first owners, nothing else), or a user.
2. The handler, once it knows which organization owns what the request names, asks the `Caller`
   for the caller's role there. Someone who is not a member of that organization gets `not_found`
   for the thing they named, exactly as if it did not exist; a member whose role is too low gets
   `forbidden`. Roles rank owner > admin > moderator > texter.

docs/api.md's "who may call" column is generated from the same declarations.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contract.access_policy import NOT_FOR_OPERATOR, Access, Role, allows, as_role
from shared.contract.errors import BatonError, forbidden, not_found
from shared.runtime import access_queries
from shared.runtime.database import Connection
from shared.runtime.tokens import Identity


@dataclass(frozen=True)
class Caller:
    """The verified caller of one request and what its subject allows."""

    identity: Identity
    access: Access

    @property
    def is_operator(self) -> bool:
        return self.identity.operator

    @property
    def user_id(self) -> int:
        """The caller as a Baton user (the request layer lets the operator reach only subjects
        that declare it, and those check `is_operator` before asking for this)."""
        if self.identity.user_id is None:
            raise forbidden(NOT_FOR_OPERATOR)
        return self.identity.user_id

    async def role_in(
        self, conn: Connection, org_id: int, hidden: BatonError, at_least: Role | None = None
    ) -> Role:
        """The caller's role in `org_id`, at least `at_least` (default: the subject's role).

        `hidden` is the `not_found` for what the request named: a stranger to the organization
        learns nothing about it, not even that it exists."""
        found = await access_queries.member_role(conn, org_id=org_id, user_id=self.user_id)
        if found is None:
            raise hidden
        role = as_role(found)
        needed = at_least or self.access.role or "owner"
        if not allows(role, needed):
            raise forbidden(f"this needs the {needed} role or higher in this organization")
        return role

    async def campaign_role(
        self, conn: Connection, campaign_id: int, at_least: Role | None = None
    ) -> int:
        """Check the caller's role in the campaign's organization; return that organization."""
        hidden = not_found("campaign", campaign_id)
        org_id = await access_queries.campaign_org(conn, campaign_id=campaign_id)
        if org_id is None:
            raise hidden
        await self.role_in(conn, org_id, hidden, at_least)
        return org_id
