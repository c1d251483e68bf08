"""A console's loop for `make run`: a daemon thread that does one step every `every` seconds
until stopped, and keeps going when a step fails (the database or the emulator away)."""

from __future__ import annotations

import threading
from typing import Self


class Repeating:
    def __init__(self, name: str, every: float) -> None:
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def step(self) -> None:
        raise NotImplementedError

    def unavailable(self, exc: Exception) -> None:
        """A step failed; the next one comes as usual."""
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.step()
            except Exception as exc:  # away: said by the console, and the loop goes on
                self.unavailable(exc)


def first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
