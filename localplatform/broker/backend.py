"""What a broker backend does: store durably, fan out per Trigger, hand over in order."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence

from localplatform.broker.model import TriggerSpec
from shared.events.cloudevent import CloudEvent

# Completes the whole delivery of one event (retries, dead letter). Raising means
# "not done": the backend keeps the event and hands it over again later.
Handler = Callable[[CloudEvent], Awaitable[None]]


class Backend(abc.ABC):
    @abc.abstractmethod
    async def start(self, triggers: Sequence[TriggerSpec]) -> None:
        """Declare queues for every Trigger (idempotent)."""

    @abc.abstractmethod
    async def publish(self, broker: str, event: CloudEvent) -> None:
        """Return only once the event is durably stored for every matching Trigger."""

    @abc.abstractmethod
    async def consume(self, trigger: TriggerSpec, handler: Handler) -> None:
        """Deliver the Trigger's events to ``handler`` forever (until cancelled).

        At most ``trigger.parallelism`` at once; FIFO when it is 1. An event is removed
        only after ``handler`` returns.
        """

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def depth(self, trigger: TriggerSpec) -> int:
        """Events waiting for a Trigger (for status and tests)."""
        return 0
