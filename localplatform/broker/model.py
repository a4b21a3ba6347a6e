"""Triggers and delivery specs, as read from the Knative manifests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# Statuses Knative retries (plus every 5xx and connection failures).
RETRYABLE = frozenset({404, 408, 409, 429})


@dataclass(frozen=True)
class DeliverySpec:
    retry: int = 0
    backoff_policy: Literal["exponential", "linear"] = "exponential"
    backoff_delay: float = 0.2
    dead_letter_url: str | None = None
    timeout: float = 30.0

    def backoff(self, retry_number: int) -> float:
        """Delay before retry ``retry_number`` (1-based), as Knative computes it."""
        if self.backoff_policy == "linear":
            return self.backoff_delay * retry_number
        return self.backoff_delay * float(2 ** (retry_number - 1))


@dataclass(frozen=True)
class TriggerSpec:
    name: str
    broker: str
    subscriber_url: str
    filters: Mapping[str, str] = field(default_factory=dict)
    delivery: DeliverySpec = field(default_factory=DeliverySpec)
    parallelism: int = 1
    namespace: str = "protostar"

    def matches(self, attributes: Mapping[str, str]) -> bool:
        """Exact match on every filter attribute (the legacy ``filter.attributes``)."""
        return all(attributes.get(k) == v for k, v in self.filters.items())

    @property
    def queue(self) -> str:
        return f"t.{self.namespace}.{self.broker}.{self.name}"
