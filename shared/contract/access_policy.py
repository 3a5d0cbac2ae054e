"""Who may call what, as declared: each subject's `Access` in shared/contract/catalogue.py, and the
ranks of the roles. Pure declarations, part of the API contract: the catalogue imports them, and so
must import nothing that does I/O (shared/runtime/access.py enforces them against the database).

docs/api.md's "who may call" column is generated from the same declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["owner", "admin", "moderator", "texter"]
RANK: dict[str, int] = {"texter": 1, "moderator": 2, "admin": 3, "owner": 4}
ROLES: tuple[Role, ...] = get_args(Role)


def as_role(value: str) -> Role:
    """A role read from the database (its CHECK admits these four only) as the type says it."""
    for role in ROLES:
        if value == role:
            return role
    raise ValueError(f"not a role: {value!r}")


def allows(role: str | None, minimum: Role) -> bool:
    return role is not None and RANK[role] >= RANK[minimum]


@dataclass(frozen=True)
class Access:
    """Who may call one subject."""

    # The least role in the organization that owns what the request names; None: no user may.
    role: Role | None
    # The deployment's operator may call it too (or, with role None, only the operator may).
    operator: bool = False
    # Finer rules the handler enforces, in words for the docs.
    rule: str = ""
    # No token needed at all (the `baton.status.*` health subjects, which reveal no data).
    public: bool = False
    # Any user, member of the organization or not yet (joining by invite link makes them one).
    any_user: bool = False

    def describe(self) -> str:
        if self.public:
            return "anyone (no token)"
        who = []
        if self.operator:
            who.append("operator")
        if self.any_user:
            who.append("any user")
        elif self.role is not None:
            who.append("any member" if self.role == "texter" else f"{self.role} or higher")
        text = " or ".join(who)
        return f"{text}; {self.rule}" if self.rule else text


PUBLIC = Access(role=None, public=True)
OPERATOR_ONLY = Access(role=None, operator=True)


def member(role: Role, rule: str = "", *, operator: bool = False) -> Access:
    return Access(role=role, operator=operator, rule=rule)


NOT_FOR_OPERATOR = "the operator may only create organizations and their first owners"
