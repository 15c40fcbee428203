"""The status board redraws its panel in place on a terminal and writes plain lines elsewhere."""

import io

from leadflow import status_board
from leadflow.process import free_ports
from leadflow.status_board import StatusBoard


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_panel_redrawn_over_itself_below_other_messages(monkeypatch) -> None:
    monkeypatch.setattr(status_board, "REDRAW_S", 0.0)
    out = Terminal()
    (port,) = free_ports(1)  # nothing listens: a process not answering reads as zeros
    board = StatusBoard([f"http://127.0.0.1:{port}/metrics"], 30, out, note=lambda: "demo     sending")
    board.tick()
    first = out.getvalue()
    assert first.startswith("\x1b[2Kinputs") and first.count("\n") == 6 and "demo     sending" in first
    board.tick()
    assert out.getvalue()[len(first):].startswith("\x1b[6F")  # back up over the 6 lines just drawn
    board.message_printed()
    drawn = len(out.getvalue())
    board.tick()
    assert out.getvalue()[drawn:].startswith("\x1b[2Kinputs")  # below the message, not over it


def test_a_pipe_gets_one_line_per_interval() -> None:
    out = io.StringIO()
    board = StatusBoard([], 0.0, out, note=lambda: "demo     sending journeys: 3/9 requests")
    board.tick()
    board.tick()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and all(line.startswith("status: inputs 0.0/s") for line in lines)
    assert lines[0].endswith("; sending journeys: 3/9 requests")
