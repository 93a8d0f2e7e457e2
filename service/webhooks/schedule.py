"""When a failed delivery is tried again (WEBHOOK_RETRY_SCHEDULE, API.md v1.3): after each
step of the schedule in turn, each lengthened by up to 20 % jitter so that receivers coming
back up are not hit by every sender at once; a `Retry-After` longer than the step is
honoured, up to the step after it. Past the last step the subscription is failing and is
tried once every last step."""

import random
from dataclasses import dataclass

JITTER = 0.2


@dataclass(frozen=True)
class Retry:
    delay: float  # seconds until the next attempt
    exhausted: bool  # the schedule has run out: the subscription is failing


def next_retry(
    schedule: tuple[float, ...], failures: int, retry_after: float | None = None
) -> Retry:
    """After the `failures`-th failed attempt in a row (1 for the first): the first is
    retried after the first step, and so on; the one after the last step exhausts it."""
    step = min(failures, len(schedule)) - 1
    delay = schedule[step] * (1 + random.uniform(0, JITTER))  # noqa: S311 - spreading, not secrecy
    if retry_after is not None and retry_after > delay:
        following = schedule[min(step + 1, len(schedule) - 1)]
        delay = min(retry_after, max(following, delay))
    return Retry(delay=delay, exhausted=failures > len(schedule))
