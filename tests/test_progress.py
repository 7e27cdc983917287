"""Progress of long commands: a bar redrawn in place on a terminal, a few lines in a log."""

from io import StringIO

from django.core.management.base import OutputWrapper

from imaging.management.progress import Progress


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_one_bar_is_redrawn_in_place():
    screen = Terminal()
    progress = Progress(OutputWrapper(screen), total=4, label="purging")
    for n in range(4):
        progress.advance(note=f"session {n}")
    progress.finish()

    text = screen.getvalue()
    assert text.count("\r") == 4
    assert text.count("\n") == 1
    assert "purging [" + "#" * 30 + "] 4/4 session 3" in text


def test_in_a_log_it_prints_a_line_per_tenth_of_the_work():
    log = StringIO()
    progress = Progress(OutputWrapper(log), total=100, label="exporting")
    for _ in range(100):
        progress.advance()
    progress.finish()

    lines = log.getvalue().splitlines()
    assert lines[0] == "exporting: 1/100"
    assert lines[-1] == "exporting: 100/100"
    assert len(lines) == 11
    assert "\r" not in log.getvalue()
