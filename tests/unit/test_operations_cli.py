"""The operations CLI's small pieces: date parsing and the progress display."""

from __future__ import annotations

import io

import pytest

from cli.admin import CommandError
from cli.operations import parse_time, report_text
from cli.progress import ProgressDisplay
from sitoo_bloomreach.v1 import admin_pb2 as pb


def test_parse_time_forms() -> None:
    assert parse_time("2024-05-01") == 1714521600
    assert parse_time("2024-05-01T02:00:00+02:00") == 1714521600
    assert parse_time("1714521600") == 1714521600
    assert parse_time("26h", now=100_000.0) == 100_000 - 26 * 3600
    assert parse_time("90m", now=10_000.0) == 10_000 - 5400
    with pytest.raises(CommandError) as caught:
        parse_time("yesterday")
    assert caught.value.exit_code == 2


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_and_lines_otherwise() -> None:
    tty = Tty()
    display = ProgressDisplay("backfill", tty)
    display.update(0, 200)
    display.update(100, 200, "enqueued=100")
    display.update(200, 200, final=True)
    out = tty.getvalue()
    assert "\r" in out and "[" + "#" * 15 + "-" * 15 + "]" in out
    assert "100/200" in out and "ETA" in out and "/s" in out and out.endswith("\n")

    plain = io.StringIO()
    lines = ProgressDisplay("backfill", plain, every_s=3600)
    lines.update(0, 200)
    lines.update(100, 200)  # within the interval: no line
    lines.update(200, 200, final=True)
    text = plain.getvalue().splitlines()
    assert "\r" not in plain.getvalue()
    assert len(text) == 2 and text[-1].startswith("backfill: 200/200 scanned")


def test_checklist_text_names_the_fix() -> None:
    report = pb.ValidationReport(
        integration="acme",
        passed=False,
        checks=[
            pb.ValidationCheck(name="a", passed=True, detail="fine"),
            pb.ValidationCheck(name="b", passed=False, detail="broken", remedy="do this"),
            pb.ValidationCheck(name="c", skipped=True, detail="skipped: x"),
        ],
    )
    text = report_text(report).splitlines()
    assert text[1:5] == [
        "[PASS] a: fine",
        "[FAIL] b: broken",
        "       fix: do this",
        "[SKIP] c: skipped: x",
    ]
    assert text[-1] == "1 check(s) failed: see 'fix' above."
