from __future__ import annotations

import grpc

from edge import spi_contract
from edge.errors import GRPC_TO_HTTP, http_status, webhook_status


def test_every_grpc_code_maps_to_a_status_sitoo_accepts() -> None:
    allowed = spi_contract.ALLOWED_STATUSES | {501}
    for code in grpc.StatusCode:
        assert http_status(code) in allowed, code


def test_google_rpc_mapping_for_the_common_codes() -> None:
    assert GRPC_TO_HTTP[grpc.StatusCode.UNAVAILABLE] == 503
    assert GRPC_TO_HTTP[grpc.StatusCode.RESOURCE_EXHAUSTED] == 429
    assert GRPC_TO_HTTP[grpc.StatusCode.DEADLINE_EXCEEDED] == 504
    assert GRPC_TO_HTTP[grpc.StatusCode.UNAUTHENTICATED] == 401
    assert GRPC_TO_HTTP[grpc.StatusCode.PERMISSION_DENIED] == 403
    assert GRPC_TO_HTTP[grpc.StatusCode.NOT_FOUND] == 404
    assert GRPC_TO_HTTP[grpc.StatusCode.INVALID_ARGUMENT] == 400
    # Sitoo's SPI lists no 409: an existing customer is a bad request.
    assert GRPC_TO_HTTP[grpc.StatusCode.ALREADY_EXISTS] == 400


def test_webhook_never_answers_a_server_error_sitoo_would_drop() -> None:
    for code in grpc.StatusCode:
        status = webhook_status(code)
        assert status < 500 or status in (503, 504), code


def test_error_body_shape() -> None:
    body = spi_contract.error_body(429, "slow down", "rid")
    assert body == {
        "request_id": "rid",
        "error_code": "too-many-requests",
        "error_data": {"message": "slow down"},
    }
    assert spi_contract.error_body(500, "x")["error_code"] == "other"


def test_upstream_configuration_reasons_are_bad_gateway() -> None:
    from edge.errors import REASON_TO_HTTP

    assert set(REASON_TO_HTTP.values()) == {502}
    assert 502 in spi_contract.ALLOWED_STATUSES
    assert spi_contract.error_code_for(502) == "bad-gateway"
