"""One call to the core's AdminService for every admin command: the token, the channel, and
the operator's error for each gRPC failure. The command groups live in their own modules
(`cli/integration.py`, `cli/outbox.py`, `cli/quarantine.py`, `cli/clients.py`, …)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from runtime.grpc_channel import open_channel
from runtime.settings import Settings, read_secret
from sitoo_bloomreach.v1 import admin_pb2_grpc

if TYPE_CHECKING:
    from sitoo_bloomreach.v1.admin_pb2_grpc import AdminServiceAsyncStub

T = TypeVar("T")
ADMIN_DEADLINE_SECONDS = 30.0


class CommandError(Exception):
    """A failed command; the message is for the operator, the code for scripts."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def call_admin(
    settings: Settings, action: Callable[[AdminServiceAsyncStub, Any], Awaitable[T]]
) -> T:
    token = read_secret(settings.admin_token, settings.admin_token_file, "ADMIN_TOKEN")
    metadata = (("authorization", f"Bearer {token}"),)

    async def go() -> T:
        channel = open_channel(settings)
        try:
            return await action(admin_pb2_grpc.AdminServiceStub(channel), metadata)
        finally:
            await channel.close(None)

    try:
        return asyncio.run(go())
    except grpc.aio.AioRpcError as exc:
        code = exc.code()
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise CommandError(
                f"cannot reach the core at {settings.core_target} ({exc.details()}); is it "
                "running? (`sitoo-bloomreach run` or `sitoo-bloomreach core`)",
                exit_code=69,
            ) from exc
        if code == grpc.StatusCode.UNAUTHENTICATED:
            raise CommandError(
                "the core refused the admin token; set SITOO_BR_ADMIN_TOKEN or "
                "SITOO_BR_ADMIN_TOKEN_FILE to the core's admin token",
                exit_code=77,
            ) from exc
        if code == grpc.StatusCode.PERMISSION_DENIED and "scope" in (exc.details() or ""):
            raise CommandError(
                f"the core refused the call: {exc.details()}; use the admin token or a "
                "client with the admin scope",
                exit_code=77,
            ) from exc
        raise CommandError(f"{code.name.lower()}: {exc.details()}") from exc


def print_message(message: Message, as_json: bool, text: Callable[[dict[str, Any]], str]) -> None:
    data = MessageToDict(message, preserving_proto_field_name=True)
    print(json.dumps(data, indent=2, sort_keys=True) if as_json else text(data))


def as_dict(message: Message) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)
