"""Passwords: argon2id at or above OWASP's floor, and a strength policy with clear errors."""

from __future__ import annotations

import functools
import unicodedata

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shared.errors import BadRequest

# OWASP Password Storage Cheat Sheet: argon2id, at least 19 MiB, 2 iterations, 1 lane.
FLOOR_MEMORY_KIB = 19456
FLOOR_TIME_COST = 2
FLOOR_PARALLELISM = 1
MIN_LENGTH = 10
MAX_LENGTH = 128  # characters; a bound on hashing cost, far above any real password
# A few of the most common passwords of at least MIN_LENGTH characters (lower-cased).
COMMON = frozenset(
    {
        "1234567890",
        "12345678910",
        "0123456789",
        "qwertyuiop",
        "1q2w3e4r5t",
        "password12",
        "password123",
        "password1234",
        "passw0rd123",
        "iloveyou12",
        "qwerty1234",
        "qwerty12345",
        "abcdefghij",
        "abcd123456",
        "1qaz2wsx3edc",
        "asdfghjkl1",
        "zaq12wsxcde",
        "letmein123",
        "welcome123",
        "admin12345",
        "administrator",
        "football123",
        "sunshine12",
        "princess12",
        "dragon1234",
        "monkey1234",
        "baseball12",
        "superman12",
        "trustno1234",
        "0987654321",
        "1111111111",
        "aaaaaaaaaa",
        "qwer1234!@",
        "protostar1",
        "protostar123",
    }
)


class WeakPassword(BadRequest):
    code = "weak_password"


def check_password(password: str, *, email: str | None = None) -> str:
    """Return the password (NFC) if it meets the policy; WeakPassword names the reason."""
    if not isinstance(password, str):
        raise WeakPassword("password must be a string")
    normalized = unicodedata.normalize("NFC", password)
    if len(normalized) < MIN_LENGTH:
        raise WeakPassword(f"password must be at least {MIN_LENGTH} characters")
    if len(normalized) > MAX_LENGTH:
        raise WeakPassword(
            f"password must be at most {MAX_LENGTH} characters", code="password_too_long"
        )
    if any(unicodedata.category(ch) == "Cc" for ch in normalized):
        raise WeakPassword("password must not contain control characters")
    lowered = normalized.lower()
    if lowered in COMMON:
        raise WeakPassword("this password is too common; choose another")
    if len(set(lowered)) < 4:
        raise WeakPassword("password repeats too few different characters")
    if email and lowered in (email.lower(), email.split("@")[0].lower()):
        raise WeakPassword("password must not be your email address")
    classes = sum(
        [
            any(ch.islower() for ch in normalized),
            any(ch.isupper() for ch in normalized),
            any(ch.isdigit() for ch in normalized),
            any(not ch.isalnum() for ch in normalized),
            any(ord(ch) > 127 and ch.isalpha() for ch in normalized),  # Hangul and others
        ]
    )
    if classes < 2 and len(normalized) < 16:
        raise WeakPassword("use at least 16 characters, or mix letters with digits or symbols")
    return normalized


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        if (
            memory_kib < FLOOR_MEMORY_KIB
            or time_cost < FLOOR_TIME_COST
            or parallelism < FLOOR_PARALLELISM
        ):
            raise ValueError("argon2 parameters are below OWASP's floor")
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)

    @functools.cached_property
    def dummy_hash(self) -> str:
        """Verified against when the account does not exist, so timing tells nothing."""
        return self.hasher.hash("not-a-real-password-0")
