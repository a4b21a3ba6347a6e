"""How a delivery can fail, which decides what happens to the event.

- :class:`TransientFailure`: try again later. The handler answers 503, the broker
  redelivers with backoff and finally dead-letters; the ledger keeps the row open.
- :class:`PermanentFailure`: retrying cannot help (SMTP 5xx, Discord 400). Recorded in
  the ledger as ``failed``; the event is acknowledged.
- :class:`WebhookGone`: Discord says the webhook no longer exists (404) or its token is
  not valid (401). Permanent, and a bot's webhook is disabled.

Messages never carry a webhook token, a mail address or a reset link.
"""

from __future__ import annotations


class DeliveryError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientFailure(DeliveryError):
    """The channel may take the message later."""


class PermanentFailure(DeliveryError):
    """The channel refused the message for good."""


class WebhookGone(PermanentFailure):
    """Discord does not know this webhook (any more), or refuses its token."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
