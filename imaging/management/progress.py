"""Progress for long staff commands: a bar on a terminal, plain lines otherwise.

    progress = Progress(self.stdout, total=len(items), label="purging")
    for item in items:
        ...
        progress.advance(note=str(item.id))
    progress.finish()

On a terminal the bar redraws in place; in a log or a pipe it prints a line at each tenth
of the work (and the last), so a cron job's output stays short and greppable.
"""

from __future__ import annotations

import shutil
from typing import Any

BAR_WIDTH = 30


class Progress:
    def __init__(self, stream: Any, *, total: int, label: str) -> None:
        self.stream = stream
        self.total = max(0, total)
        self.label = label
        self.done = 0
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_tenth = -1

    def _write(self, text: str, *, ending: str = "\n") -> None:
        try:
            self.stream.write(text, ending=ending)  # Django's OutputWrapper
        except TypeError:
            self.stream.write(text + ending)
        if hasattr(self.stream, "flush"):
            self.stream.flush()

    def advance(self, count: int = 1, *, note: str = "") -> None:
        self.done = min(self.total, self.done + count) if self.total else self.done + count
        if self.tty:
            filled = round(BAR_WIDTH * self.done / self.total) if self.total else BAR_WIDTH
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            line = f"{self.label} [{bar}] {self.done}/{self.total} {note}"
            columns = shutil.get_terminal_size((100, 20)).columns
            self._write("\r" + line[: columns - 1].ljust(columns - 1), ending="")
            return
        tenth = (10 * self.done // self.total) if self.total else 10
        if tenth != self._last_tenth or self.done == self.total:
            self._last_tenth = tenth
            self._write(f"{self.label}: {self.done}/{self.total}" + (f" ({note})" if note else ""))

    def finish(self) -> None:
        if self.tty and self.total:
            self._write("")
