"""mTLS identities: when the core requires client certificates, a certificate's common name
mapped to a client (`client create NAME --tls-subject CN`) identifies the caller without a
token, with that client's scopes; an unmapped certificate is nobody."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import grpc
import pytest

from harness.metrics import sample_value
from harness.stack import stack
from sitoo_bloomreach.v1 import admin_pb2, admin_pb2_grpc, customers_pb2, customers_pb2_grpc
from tests.support.certs import CertAuthority

pytestmark = pytest.mark.slow


def _channel(target: str, authority: CertAuthority, cert: Path, key: Path) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=authority.ca_file.read_bytes(),
        private_key=key.read_bytes(),
        certificate_chain=cert.read_bytes(),
    )
    return grpc.aio.secure_channel(
        target, credentials, options=[("grpc.ssl_target_name_override", "core.test")]
    )


async def test_a_client_certificate_is_a_client_identity(
    sqlite_database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    authority = CertAuthority.create(tmp_path)
    server_cert, server_key = authority.issue("core.test", server=True)
    ops_cert, ops_key = authority.issue("ops-cli", server=False)
    env = {
        **service_env,
        "SITOO_BR_CORE_TLS_CERT_FILE": str(server_cert),
        "SITOO_BR_CORE_TLS_KEY_FILE": str(server_key),
        "SITOO_BR_CORE_TLS_CLIENT_CA_FILE": str(authority.ca_file),
        # The CLI's side: it presents a certificate (required) and the admin token.
        "SITOO_BR_CORE_TLS_CA_FILE": str(authority.ca_file),
        "SITOO_BR_CLIENT_TLS_CERT_FILE": str(ops_cert),
        "SITOO_BR_CLIENT_TLS_KEY_FILE": str(ops_key),
        "SITOO_BR_CORE_TLS_SERVER_NAME": "core.test",
    }
    with stack(sqlite_database_url, env, tmp_path / "logs") as s:
        s.start_core()
        created = s.cli(
            "client", "create", "reporting", "--scope", "admin", "--tls-subject", "reporting-svc"
        )
        assert created.returncode == 0, created.stderr
        assert "mTLS certificate CN: reporting-svc" in created.stdout
        target = s.env["SITOO_BR_CORE_TARGET"]
        listing = admin_pb2.ListIntegrationsRequest()

        mapped_cert, mapped_key = authority.issue("reporting-svc", server=False)
        async with _channel(target, authority, mapped_cert, mapped_key) as channel:
            # No token at all: the certificate names the client.
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            assert (await admin.ListIntegrations(listing, timeout=10)).integrations == []
            # ...with that client's scopes only.
            customers = customers_pb2_grpc.CustomerServiceStub(channel)
            search = customers_pb2.SearchCustomersRequest(integration="x", key_type="email")
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await customers.SearchCustomers(search, timeout=10)
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "'reporting'" in (info.value.details() or "")

        stranger_cert, stranger_key = authority.issue("stranger", server=False)
        async with _channel(target, authority, stranger_cert, stranger_key) as channel:
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await admin.ListIntegrations(listing, timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED

        # Deleting the client unmaps its certificate.
        assert s.cli("client", "delete", "reporting", "--yes").returncode == 0
        async with _channel(target, authority, mapped_cert, mapped_key) as channel:
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await admin.ListIntegrations(listing, timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED

        url = f"http://{s.env['SITOO_BR_CORE_METRICS_LISTEN']}/metrics"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            text = await response.text()
        handled = "core_grpc_server_handling_seconds_count"
        assert sample_value(text, handled, method="ListIntegrations", code="OK", client="reporting")
