"""Accounts: sign-up, sign-in, refresh rotation, guests, password reset, invites,
profile, export and deletion. Every change and its event are one unit of work.

The service is one object made of its parts, one module each: :mod:`.sessions`,
:mod:`.resets`, :mod:`.profile`, :mod:`.invites`, on :mod:`.base`; the vocabulary
(users, sessions, invite codes) is :mod:`.records`."""

from __future__ import annotations

from shared.accounts.invites import Invites
from shared.accounts.profile import Profiles
from shared.accounts.records import (
    Gone,
    Session,
    User,
    insert_invite,
    new_invite_code,
    normalize_email,
    normalize_invite_code,
)
from shared.accounts.resets import Resets
from shared.accounts.sessions import Sessions

__all__ = [
    "AccountService",
    "Gone",
    "Session",
    "User",
    "insert_invite",
    "new_invite_code",
    "normalize_email",
    "normalize_invite_code",
]


class AccountService(Sessions, Resets, Profiles, Invites):
    """Every account operation, over one pool, Redis and token issuer."""
