"""`python -m cli.probe core`: the core's standard gRPC health check, as a Kubernetes exec
probe. The kubelet's own gRPC probe speaks plaintext only, and the core serves TLS off
loopback; this one uses the same client settings as the edge and the CLI
(SITOO_BR_CORE_TARGET, SITOO_BR_CORE_TLS_CA_FILE, SITOO_BR_CLIENT_TLS_*, ...).

Kept light (no aiohttp, no SQLAlchemy): it runs every few seconds in each core pod.
Exit codes: 0 serving, 1 not serving or unreachable, 78 configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from runtime.grpc_channel import open_channel
from runtime.settings import ConfigurationError, load_settings

EX_CONFIG = 78


async def check(service: str, timeout: float) -> str:
    settings = load_settings()
    async with open_channel(settings) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cli.probe", description=__doc__)
    parser.add_argument("target", choices=["core"])
    parser.add_argument("--service", default="", help="a service name; default: the server")
    parser.add_argument("--timeout", type=float, default=3.0, metavar="S")
    args = parser.parse_args(argv)
    try:
        status = asyncio.run(check(args.service, args.timeout))
    except (ConfigurationError, OSError) as exc:
        print(f"probe: {exc}", file=sys.stderr)
        return EX_CONFIG
    except grpc.RpcError as exc:
        print(f"probe: core unreachable: {exc.code().name}", file=sys.stderr)
        return 1
    print(status)
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    raise SystemExit(main())
