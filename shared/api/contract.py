"""Request and response models, and the one translation of a validation failure into the
API's error shape: ``400 {"error": {"code", "message", "field"}}``.

A capability writes its rules once, as functions that return the normalised value or
raise :class:`BadRequest` (see shared/bots/validation.py); :func:`rule` makes such a
function a pydantic validator, and :func:`bad_request` turns the failure back into the
rule's own code and message, with the path of the field that failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from shared.errors import BadRequest

T = TypeVar("T")
M = TypeVar("M", bound="Body")

_RULE = "protostar_rule"  # the error type our rules raise through pydantic


class Body(BaseModel):
    """A request body (or query): unknown fields are refused and JSON types are exact
    (``"5"`` is not a number, ``1`` is not ``true``).

    ``codes`` names the error code of a field whose type or shape is wrong (default
    ``invalid_<field>``; ``"<field>.*"`` for its items); ``extra_code`` is the code for an
    unknown field."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    codes: ClassVar[Mapping[str, str]] = {}
    extra_code: ClassVar[str] = "unknown_fields"

    @classmethod
    def parse(cls: type[M], data: object) -> M:
        """The validated body, or :class:`BadRequest` naming the first field that failed."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise bad_request(cls, exc) from None


class Query(Body):
    """Query parameters arrive as strings: numbers are read from them (``?days=7``)."""

    model_config = ConfigDict(extra="ignore", strict=False, frozen=True)


def _decimal(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,9}", value):
        raise ValueError("must be a whole number written in digits")
    return value


# A query integer: digits only ("7"; not "7.0", "+7", " 7" or "1_0", which int() takes).
QueryInt = Annotated[int, BeforeValidator(_decimal)]


class Reply(BaseModel):
    """A response body. Documented with ``additionalProperties: false`` so that the
    contract test (tests/support/gateway.py) catches a field sent but not documented."""

    model_config = ConfigDict(extra="forbid")


def refuse(message: str, code: str) -> PydanticCustomError:
    """The error a model validator raises for a rule that spans fields."""
    return PydanticCustomError(_RULE, "{message}", {"message": message, "code": code})


def rule(check: Callable[[Any], T]) -> AfterValidator:
    """A validator from a rule function that raises :class:`BadRequest`."""

    def validate(value: Any) -> T:
        try:
            return check(value)
        except BadRequest as exc:
            raise refuse(exc.message, exc.code) from None

    return AfterValidator(validate)


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def bad_request(model: type[Body], exc: ValidationError) -> BadRequest:
    error = exc.errors(include_url=False, include_input=False)[0]
    loc = tuple(error["loc"])
    field = _path(loc)
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == _RULE:
        where: dict[str, object] = {"field": field} if field else {}
        return BadRequest(str(ctx["message"]), code=str(ctx["code"]), details=where)
    if not loc:
        return BadRequest("request body must be a JSON object", code="invalid_json")
    if kind == "extra_forbidden":
        return BadRequest(
            f"unknown or read-only field {field!r}",
            code=model.extra_code,
            details={"field": field},
        )
    name = str(loc[0])
    item = model.codes.get(f"{name}.*") if len(loc) > 1 else None
    code = item or model.codes.get(name, f"invalid_{name}")
    message = (
        "is required"
        if kind == "missing"
        else str(error["msg"]).removeprefix("Value error, ").lower()
    )
    return BadRequest(f"{field} {message}", code=code, details={"field": field})
