"""The process harness that the tests and the benchmarks share: real processes (`cli.main`
services and the `sandbox` emulators) on free ports, fresh databases, metrics scraping.

Production code never imports it (tests/unit/test_import_rules.py); the image drops it with
`sandbox` and `bench` unless built WITH_SANDBOX=true.
"""
