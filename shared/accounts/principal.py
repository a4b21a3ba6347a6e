"""Who is asking: a signed-in user or a guest visitor, as proven by a verified token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["guest", "stargazer", "protostar"]
ROLES: tuple[Role, ...] = ("guest", "stargazer", "protostar")


@dataclass(frozen=True)
class Principal:
    """``subject`` is a user id, or for a guest the visitor id the server signed.

    Never an id the client made up: a Principal only comes out of token verification.
    """

    subject: str
    role: Role
    is_admin: bool = False
    bot: str | None = None  # guest identities are bound to one bot (its slug)

    @property
    def is_guest(self) -> bool:
        return self.role == "guest"

    @property
    def may_own_bots(self) -> bool:
        """Bots, their documents, conversations and insights belong to protostars (an
        invite redeemed); admin rights add nothing here, they are for operators."""
        return self.role == "protostar"
