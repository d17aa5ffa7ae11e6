"""Progress display of the workflows: a rich bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import time

__all__ = ["Progress"]


class Progress:
    """A rich progress bar on a terminal; one plain line per finished step otherwise."""

    def __init__(self, total: int, quiet: bool) -> None:
        import sys

        self.quiet = quiet
        self.total = total
        self.done = 0
        self.timings: dict[str, float] = {}
        self._bar = None
        self._description = ""
        self._started = time.perf_counter()
        self._t0 = self._started
        self._stream = sys.stderr
        if not quiet:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            console = Console(stderr=True)
            if console.is_terminal:
                self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                     TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                     console=console, transient=False)
                self._bar.start()
                self._task = self._bar.add_task("demo", total=total)

    def step(self, description: str) -> None:
        self._description = description
        self._t0 = time.perf_counter()
        if self._bar is not None:
            self._bar.update(self._task, description=description)

    def advance(self) -> None:
        self.done += 1
        seconds = time.perf_counter() - self._t0
        self.timings[self._description] = round(self.timings.get(self._description, 0.0) + seconds, 3)
        if self._bar is not None:
            self._bar.advance(self._task)
        elif not self.quiet:
            total = time.perf_counter() - self._started
            print(f"[{self.done}/{self.total}] {self._description}: {seconds:.1f} s (total {total:.0f} s)",
                  file=self._stream, flush=True)
        self._t0 = time.perf_counter()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
