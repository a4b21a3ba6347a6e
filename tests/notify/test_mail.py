"""Mail through aiosmtplib to a real local SMTP server (aiosmtpd): 4xx retried with
backoff until accepted, 5xx permanent, nothing secret in what is stored or raised."""

from __future__ import annotations

import email
from email import policy

import pytest

from shared.notify.errors import PermanentFailure, TransientFailure
from shared.notify.mail import Mail, SmtpMailer, scrub
from shared.settings import load_settings
from tests.notify.conftest import Smtp


def mailer(smtp: Smtp, **kwargs: object) -> SmtpMailer:
    options: dict[str, object] = {"starttls": False, "backoff": 0.3, "timeout": 5.0}
    options.update(kwargs)
    return SmtpMailer(smtp.host, smtp.port, sender="Protostar <no-reply@protostar.test>", **options)  # type: ignore[arg-type]


MAIL = Mail(
    to="jane@example.com",
    subject="Protostar 비밀번호 재설정",
    text="링크: https://protostar.test/reset#token=abc\n",
    message_id="<evt-1.email-user@protostar.test>",
    secrets=("https://protostar.test/reset#token=abc",),
)


async def test_451_then_250_delivers_exactly_once_after_the_backoff(smtp: Smtp) -> None:
    smtp.handler.script.append("451 4.3.0 Try again later")
    reply = await mailer(smtp).send(MAIL)
    assert reply.startswith("2.0.0 OK") or "OK" in reply
    assert len(smtp.handler.attempts) == 2
    assert smtp.handler.attempts[1] - smtp.handler.attempts[0] >= 0.3
    (got,) = smtp.handler.received
    assert got.rcpt_tos == ["jane@example.com"]
    message = email.message_from_bytes(got.data, policy=policy.default)
    assert message["Message-ID"] == "<evt-1.email-user@protostar.test>"
    assert message["Subject"] == "Protostar 비밀번호 재설정"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "https://protostar.test/reset#token=abc" in message.get_content()


async def test_4xx_that_persists_is_handed_back_as_transient(smtp: Smtp) -> None:
    smtp.handler.script.extend(["451 4.3.0 Try again later"] * 3)
    with pytest.raises(TransientFailure, match="451"):
        await mailer(smtp, attempts=3, backoff=0.05).send(MAIL)
    assert len(smtp.handler.attempts) == 3
    assert smtp.handler.received == []


async def test_550_is_permanent_at_once_and_the_address_is_not_in_the_error(smtp: Smtp) -> None:
    smtp.handler.script.append("550 5.1.1 <jane@example.com>: Recipient address rejected")
    with pytest.raises(PermanentFailure) as failed:
        await mailer(smtp).send(MAIL)
    assert len(smtp.handler.attempts) == 1  # not retried
    assert "550" in failed.value.message
    assert "jane@example.com" not in failed.value.message
    assert smtp.handler.received == []


async def test_a_server_that_is_down_is_transient() -> None:
    m = SmtpMailer("127.0.0.1", 1, sender="a@b.test", starttls=False, attempts=2, backoff=0.01)
    with pytest.raises(TransientFailure, match="SMTP"):
        await m.send(MAIL)


async def test_starttls_is_required_by_default_never_a_silent_plain_text(smtp: Smtp) -> None:
    # aiosmtpd here offers no STARTTLS: the mail is not sent in the clear.
    with pytest.raises(TransientFailure):
        await mailer(smtp, starttls=True, attempts=1).send(MAIL)
    assert smtp.handler.received == []


def test_settings_build_the_mailer_and_check_what_goes_together() -> None:
    s = load_settings(smtp_host="mail.example.com", smtp_from="Protostar <p@example.com>")
    m = SmtpMailer.from_settings(s)
    assert m is not None
    assert (m.host, m.port, m.starttls, m.tls) == (
        "mail.example.com",
        587,
        True,
        False,
    )
    tls = SmtpMailer.from_settings(
        load_settings(smtp_host="mail.example.com", smtp_from="p@example.com", smtp_tls=True)
    )
    assert tls is not None
    assert (tls.port, tls.tls, tls.starttls) == (465, True, False)
    assert SmtpMailer.from_settings(load_settings(smtp_host="")) is None


def test_scrub_removes_addresses_and_newlines() -> None:
    assert scrub("550 <a.b@c.example>\r\n no") == "550 <<address>> no"
