"""The accounts API's request and response models (auth and users functions)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, RootModel

from shared.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from shared.accounts.records import DISPLAY_NAME_MAX, EMAIL_MAX, display_name, normalize_email
from shared.api.contract import Body, Reply, rule

Email = Annotated[
    str, Field(json_schema_extra={"format": "email", "maxLength": EMAIL_MAX}), rule(normalize_email)
]
# Checked by check_password (length, common passwords, the email inside it), which needs
# the account's email; the schema states the same bounds.
Password = Annotated[
    str, Field(json_schema_extra={"minLength": MIN_LENGTH, "maxLength": MAX_LENGTH})
]
DisplayName = Annotated[
    str | None, Field(json_schema_extra={"maxLength": DISPLAY_NAME_MAX}), rule(display_name)
]
Role = Literal["stargazer", "protostar"]
Locale = Literal["ko", "en"]


class Signup(Body):
    codes: ClassVar = {"password": "weak_password"}
    email: Email
    password: Password
    display_name: DisplayName = None


class Credentials(Body):
    """Sign-in: the email is compared as typed (trimmed, lower-cased), never validated,
    so a malformed one is the same refusal as a wrong password."""

    codes: ClassVar = {"email": "invalid_credentials", "password": "invalid_credentials"}
    extra_code: ClassVar = "invalid_credentials"
    email: Annotated[str, Field(max_length=EMAIL_MAX)]
    password: Annotated[str, Field(min_length=1, max_length=4 * MAX_LENGTH)]


class RefreshToken(Body):
    codes: ClassVar = {"refresh_token": "invalid_token"}
    refresh_token: Annotated[str, Field(min_length=1, max_length=4096)]


class GuestRequest(Body):
    codes: ClassVar = {"bot": "invalid_bot"}
    bot: Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")]


class ResetRequest(Body):
    """Always answered 202: a malformed address is not told apart from an unknown one."""

    email: Annotated[str, Field(max_length=1024)]


class ResetConfirm(Body):
    codes: ClassVar = {"token": "invalid_reset_token", "password": "weak_password"}
    token: Annotated[str, Field(min_length=1, max_length=200)]
    password: Password


# The password the account has now, as typed (checked against the hash, never for
# strength); a change of password and a deletion need it.
CurrentPassword = Annotated[str, Field(max_length=4 * MAX_LENGTH)]


class ProfileChanges(Body):
    """Only the fields sent change; a new password needs the current one, ends every
    session and answers a fresh one (a TokenResponse instead of the UserView)."""

    codes: ClassVar = {
        "password": "weak_password",
        "current_password": "current_password_required",
    }
    extra_code: ClassVar = "invalid_field"
    display_name: DisplayName = None
    locale: Locale | None = None
    password: Password | None = None
    current_password: CurrentPassword | None = None


class AccountDeletion(Body):
    """Deleting the account needs its current password."""

    codes: ClassVar = {"current_password": "current_password_required"}
    current_password: CurrentPassword


class InviteCode(Body):
    codes: ClassVar = {"code": "invalid_invite"}
    code: Annotated[str, Field(max_length=64, examples=["PS-ABCD-EFGH-JKLM"])]


class UserView(Reply):
    id: str = Field(json_schema_extra={"format": "uuid"})
    email: str
    display_name: str | None
    role: Role
    is_admin: bool
    locale: Locale | None
    created_at: datetime


class TokenResponse(Reply):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    user: UserView


class ProfileUpdated(RootModel[UserView | TokenResponse]):
    """The user; after a change of password, the fresh session (with the user in it)."""


class GuestToken(Reply):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    role: Literal["guest"]
    bot: str
    user: None


class Status(Reply):
    status: str


class Jwks(Reply):
    keys: list[dict[str, str]]


class Invite(Reply):
    id: str = Field(json_schema_extra={"format": "uuid"})
    code: str | None = Field(None, description="Only in the response that creates it")
    hint: str
    created_at: datetime
    expires_at: datetime
    status: Literal["open", "used", "expired"]


class InviteList(Reply):
    invites: list[Invite]


class Export(Reply):
    """Everything stored about the user (no secrets, no hashes)."""

    exported_at: datetime
    user: UserView
    sessions: list[dict[str, Any]]
    invites: list[dict[str, Any]]
    password_resets: list[dict[str, Any]]
    bots: list[dict[str, Any]]
    questions: list[dict[str, Any]]
    talent_searches: list[dict[str, Any]] = Field(
        description="The user's talent searches, as they ran (query, criteria, counts)"
    )
    talent_appearances: list[dict[str, Any]] = Field(
        description="Each time one of the user's bots was shown by a talent search: the "
        "bot, its rank and score, the criteria and its verdicts (never who searched)"
    )
