"""A small progress display: a bar with rate and ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 30


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class ProgressDisplay:
    def __init__(self, label: str, stream: TextIO | None = None, *, every_s: float = 5.0) -> None:
        self._label = label
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._started = time.monotonic()
        self._last_line = float("-inf")  # the first update always prints
        self._every = every_s
        self._first_done: int | None = None

    def update(self, done: int, total: int, extra: str = "", *, final: bool = False) -> None:
        now = time.monotonic()
        if self._first_done is None:
            self._first_done = done  # a resumed job: the rate counts this run's work only
        elapsed = max(now - self._started, 1e-6)
        rate = (done - self._first_done) / elapsed
        left = max(total - done, 0)
        eta = _duration(left / rate) if rate > 0 and not final else "--:--"
        if self._tty:
            fraction = min(done / total, 1.0) if total else 1.0
            filled = int(fraction * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            line = (
                f"\r{self._label} [{bar}] {done}/{total} {fraction:6.1%} "
                f"{rate:7.1f}/s ETA {eta} {extra}"
            )
            self._stream.write(line.ljust(120)[:160])
            if final:
                self._stream.write("\n")
            self._stream.flush()
            return
        if final or now - self._last_line >= self._every:
            self._last_line = now
            self._stream.write(
                f"{self._label}: {done}/{total} scanned, {rate:.1f}/s, ETA {eta}, "
                f"elapsed {_duration(elapsed)} {extra}\n"
            )
            self._stream.flush()
