"""`make bench` / `python -m bench [SUITE ...]`: run the suites and rewrite their sections of
BENCHMARKS.md. A suite is a module `bench.suite_NAME` with ``async def run(quick: bool) -> str``
returning its Markdown section (tables with the baseline measured in the same run)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import pkgutil
import re
import sys
import time
from pathlib import Path

from bench.harness import git_revision, machine

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "BENCHMARKS.md"
HEADER = """# Benchmarks

Measured by `make bench` (`python -m bench`); each section says what it measured, against which
baseline from the same run, on which machine. Nothing here is asserted by the tests.
"""


def suites() -> list[str]:
    return sorted(
        m.name.removeprefix("suite_")
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("suite_")
    )


def _replace_section(report: str, name: str, body: str) -> str:
    begin, end = f"<!-- suite:{name} -->", f"<!-- /suite:{name} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(report):
        return pattern.sub(lambda _m: block, report)
    return report.rstrip() + "\n\n" + block + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suites", nargs="*", help=f"which suites (default: all of {suites()})")
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke check")
    args = parser.parse_args(argv)
    chosen = args.suites or suites()
    unknown = set(chosen) - set(suites())
    if unknown:
        parser.error(f"unknown suites: {sorted(unknown)}")
    report = REPORT.read_text() if REPORT.exists() else HEADER
    for name in chosen:
        module = importlib.import_module(f"bench.suite_{name}")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.time()
        body = asyncio.run(module.run(args.quick))
        stamp = time.strftime("%Y-%m-%d", time.gmtime(started))
        command = f"python -m bench {name}" + (" --quick" if args.quick else "")
        section = (
            f"{body.strip()}\n\n_Run {stamp} at {git_revision()} on {machine()};"
            f" command: `{command}`._"
        )
        report = _replace_section(report, name, section)
        REPORT.write_text(report)
        print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
