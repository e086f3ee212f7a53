"""Benchmarks (`make bench`). Each suite is a module `bench/suite_*.py` with
``async def run(context: BenchContext) -> list[Result]``; results and the machine they ran on
are written to BENCHMARKS.md. Benchmarks measure; tests never time anything."""
