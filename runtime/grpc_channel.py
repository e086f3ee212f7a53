"""The one way a process of ours opens a gRPC channel to the core (the edge, the console and
the CLI): TLS or mTLS when a CA is configured, keepalive, the message size limit."""

from __future__ import annotations

import grpc

from runtime.settings import Settings


def channel_credentials(settings: Settings) -> grpc.ChannelCredentials | None:
    if settings.core_tls_ca_file is None:
        return None
    cert = settings.client_tls_cert_file.read_bytes() if settings.client_tls_cert_file else None
    key = settings.client_tls_key_file.read_bytes() if settings.client_tls_key_file else None
    return grpc.ssl_channel_credentials(
        root_certificates=settings.core_tls_ca_file.read_bytes(),
        private_key=key,
        certificate_chain=cert,
    )


def open_channel(settings: Settings) -> grpc.aio.Channel:
    options: list[tuple[str, str | int]] = [
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.max_receive_message_length", 4 * 1024 * 1024),
    ]
    if settings.core_tls_server_name:
        options.append(("grpc.ssl_target_name_override", settings.core_tls_server_name))
    credentials = channel_credentials(settings)
    if credentials is None:
        return grpc.aio.insecure_channel(settings.core_target, options=options)
    return grpc.aio.secure_channel(settings.core_target, credentials, options=options)
