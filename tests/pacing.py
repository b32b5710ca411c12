"""A Pacer on a virtual clock that records when each message was let through, for the
outbox tests and the morning benchmark: pacing is checked without waiting."""

from __future__ import annotations

from jobs.delivery import Pacer


class VirtualClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def recording_pacer(per_channel: float = 1.0, per_second: float = 10.0
                    ) -> tuple[Pacer, list[tuple[str, float]]]:
    """The production pacing on a virtual clock, and the (channel, moment) of every send."""
    clock = VirtualClock()
    pacer = Pacer(per_channel=per_channel, per_second=per_second, clock=clock.now,
                  sleep=clock.sleep)
    sends: list[tuple[str, float]] = []
    real_wait = pacer.wait

    def recording_wait(channel: str) -> float:
        at = real_wait(channel)
        sends.append((channel, at))
        return at

    pacer.wait = recording_wait  # type: ignore[method-assign]
    return pacer, sends
