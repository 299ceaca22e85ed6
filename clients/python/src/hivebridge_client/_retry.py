"""When and how often the SDK retries.

SendDeviceRequest is retried only when the caller set a request_id: the
bridge then never sends the request twice (a retry joins the request in
flight or gets its stored outcome), so retrying is safe. Without one a retry
could deliver the command a second time, so the first error is final.

Retried codes: UNAVAILABLE (not delivered, or the bridge is restarting) and
RESOURCE_EXHAUSTED (a limit bit; the message names it). ABORTED is not: the
device may hold the request and the bridge answers ABORTED again until it
answers. Every attempt shares the call's one deadline.
"""

import random
from dataclasses import dataclass

import grpc

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter between attempts."""

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0

    def backoff(self, attempt):
        """Seconds to wait before attempt number `attempt` (1 is the first retry)."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return random.uniform(0, ceiling)


NO_RETRY = RetryPolicy(max_attempts=1)
