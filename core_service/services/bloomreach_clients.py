"""One Bloomreach client per integration, built from its configuration.

Each integration has a connection pool of its own (``HttpClients`` keyed by the integration),
so one tenant's slow project cannot hold the connections another tenant's tills need; the
pool's size equals the integration's call slots (``CallGates``), so no request ever waits
inside the HTTP client, where no deadline could see it. This factory also remembers which
credentials each integration uses, so that a changed secret takes effect on the next call.
"""

from __future__ import annotations

from core_service.domain.bloomreach_api import BloomreachProject
from core_service.domain.errors import UpstreamMisconfigured
from core_service.domain.integration import BloomreachAccess, Integration
from core_service.services.upstream_ports import BloomreachApi, Upstream


class BloomreachClients:
    def __init__(self, upstream: Upstream) -> None:
        self._upstream = upstream
        self._clients: dict[str, tuple[BloomreachProject, BloomreachApi]] = {}
        # The client last given for each integration's (frozen) settings object: the same
        # object is the same settings, so every call after the first skips the checks.
        self._last: dict[str, tuple[BloomreachAccess, BloomreachApi]] = {}

    def for_integration(self, integration: Integration) -> BloomreachApi:
        access = integration.bloomreach
        last = self._last.get(integration.name)
        if last is not None and last[0] is access:
            return last[1]
        missing = [
            setting
            for setting, value in (
                ("Bloomreach API base URL", access.api_base_url),
                ("Bloomreach project token", access.project_token),
                ("Bloomreach API key ID", access.api_key_id),
                ("Bloomreach API secret", access.api_secret),
            )
            if not value
        ]
        if missing:
            raise UpstreamMisconfigured(
                f"integration {integration.name!r} has no {', '.join(missing)} configured"
            )
        assert access.api_secret is not None
        project = BloomreachProject(
            access.api_base_url, access.project_token, access.api_key_id, access.api_secret
        )
        cached = self._clients.get(integration.name)
        if cached is not None and cached[0] == project:
            client = cached[1]
        else:
            client = self._upstream.bloomreach(project, pool=f"integration:{integration.name}")
            self._clients[integration.name] = (project, client)
        self._last[integration.name] = (access, client)
        return client
