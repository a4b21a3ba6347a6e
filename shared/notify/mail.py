"""Mail over SMTP (aiosmtplib, imported only when a mail is actually sent).

Security is either implicit TLS from the first byte (``SMTP_TLS``, port 465) or
STARTTLS, required by default (``SMTP_STARTTLS``): a server that does not offer it is
an error, never a silent fall back to plain text. ``SMTP_STARTTLS=false`` without
``SMTP_TLS`` sends in the clear (a relay on localhost).

Replies decide what happens: a 4xx (e.g. ``451 try again later``), a dropped
connection or a timeout is retried here with exponential backoff, then handed back as
:class:`TransientFailure` (the broker redelivers later); a 5xx (``550 no such user``,
``535`` bad credentials) is a :class:`PermanentFailure` (recorded, not retried).

Each mail has a Message-ID derived from its event and channel, so a mail repeated in
the crash window between sending and recording is recognisably the same mail.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from shared.notify.errors import PermanentFailure, TransientFailure

if TYPE_CHECKING:
    from shared.settings import Settings

log = logging.getLogger("protostar.notify")

_ADDRESS = re.compile(r"[^\s<>\"'@,;:]+@[^\s<>\"',;:]+")


def scrub(text: str, limit: int = 300) -> str:
    """A server reply fit to store and log: addresses removed, one line, short."""
    return _ADDRESS.sub("<address>", " ".join(text.split()))[:limit]


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    message_id: str  # "<...@...>"
    # Substrings of ``text`` that are secrets (a reset link): withheld when it is logged.
    secrets: tuple[str, ...] = ()

    def logged_text(self, *, reveal: bool) -> str:
        if reveal:
            return self.text
        text = self.text
        for secret in self.secrets:
            text = text.replace(secret, "[withheld]")
        return text


def _message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()  # the default policy refuses CR/LF in header values
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text, charset="utf-8")
    return message


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        starttls: bool = True,
        timeout: float = 15.0,
        attempts: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 8.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self._username = username
        self._password = password
        self.tls = tls
        self.starttls = starttls and not tls
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer | None:
        """The configured mailer, or None when ``SMTP_HOST`` is unset."""
        if not settings.smtp_host or not settings.smtp_from:
            return None
        password = settings.smtp_password
        return cls(
            settings.smtp_host,
            settings.smtp_effective_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
            tls=settings.smtp_tls,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout,
        )

    async def send(self, mail: Mail) -> str:
        """Send ``mail``; returns the server's final reply line (``250 ...``)."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TransientFailure),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff, max=self.max_backoff),
            reraise=True,
            before_sleep=lambda state: log.warning(
                "mail deferred; retrying",
                extra={
                    "attempt": state.attempt_number,
                    "retry_in": round(state.upcoming_sleep, 3),
                    "reason": str(state.outcome.exception()) if state.outcome else "",
                },
            ),
        ):
            with attempt:
                return await self._send_once(mail)
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True

    async def _send_once(self, mail: Mail) -> str:
        import aiosmtplib

        try:
            _, reply = await aiosmtplib.send(
                _message(mail, self.sender),
                hostname=self.host,
                port=self.port,
                username=self._username,
                password=self._password,
                use_tls=self.tls,
                start_tls=self.starttls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            _raise(min(codes) if codes else 550, f"recipient refused: {text}")
        except aiosmtplib.SMTPResponseException as exc:
            _raise(exc.code, f"{exc.code} {exc.message}")
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Connection refused or dropped, TLS failure, timeout: try again later.
            raise TransientFailure(f"SMTP: {type(exc).__name__}: {scrub(str(exc))}") from None
        return scrub(reply)


def _raise(code: int, text: str) -> None:
    message = f"SMTP {scrub(text)}"
    if 400 <= code < 500:
        raise TransientFailure(message)
    raise PermanentFailure(message)
