"""Notifications: Discord webhooks and mail, one message per event and channel.

- :mod:`shared.notify.discord`: messages and Discord's limits (pure)
- :mod:`shared.notify.webhook`: posting to webhooks, rate limits honoured
- :mod:`shared.notify.mail`: SMTP, 4xx retried, 5xx permanent
- :mod:`shared.notify.messages`: what each notification says (pure)
- :mod:`shared.notify.ledger`: the ``notifications`` table (exactly one per event)
- :mod:`shared.notify.service`: routing an event to its channels
"""
