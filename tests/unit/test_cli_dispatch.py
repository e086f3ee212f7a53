"""Every command the CLI parses reaches a handler: argparse dispatches by ``set_defaults``."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from cli import integration, outbox
from cli.main import build_parser


def leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield path, parser
        return
    for action in subparsers:
        for name, child in action.choices.items():
            yield from leaves(child, (*path, name))


def test_every_command_has_a_handler() -> None:
    found = list(leaves(build_parser()))
    assert len(found) > 20  # the walk reaches the actions of every group
    missing = [" ".join(path) for path, p in found if p.get_default("handler") is None]
    assert missing == []


@pytest.mark.parametrize(
    ("argv", "handler"),
    [
        (
            ["integration", "rotate-credentials", "shop", "--which", "spi"],
            integration.rotate_credentials,
        ),
        (["integration", "list", "--json"], integration.list_),
        (["outbox", "replay", "--all-dead"], outbox.replay),
    ],
)
def test_an_action_is_bound_to_its_own_handler(argv: list[str], handler: object) -> None:
    assert build_parser().parse_args(argv).handler is handler
