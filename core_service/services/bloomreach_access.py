"""Setup helpers: try Bloomreach access as it is being entered, and read consent categories.

Nothing here is stored. Empty fields of the access to try are taken from a stored integration,
so the console can test a stored (write-only) secret without ever reading it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from core_service.domain.bloomreach_api import (
    BloomreachAuthFailed,
    BloomreachError,
    BloomreachProject,
    BloomreachRateLimited,
    BloomreachRejected,
)
from core_service.domain.errors import FailedPrecondition, InvalidArgument, UpstreamUnavailable
from core_service.domain.integration import Integration, validate_url
from core_service.services.upstream_ports import BloomreachScratch

CHECK_TIMEOUT_SECONDS = 5.0
WHERE_TOKEN = "Settings > Project settings > Access management > API"  # noqa: S105
WHERE_KEYS = "Settings > Project settings > Access management > API keys"


@dataclass(frozen=True)
class AccessToTry:
    integration: str = ""
    api_base_url: str = ""
    project_token: str = ""
    api_key_id: str = ""
    api_secret: str = ""


@dataclass(frozen=True)
class AccessReport:
    ok: bool
    detail: str
    remedy: str = ""


@dataclass(frozen=True)
class ConsentCategoryInfo:
    id: str
    name: str
    legitimate_interest: bool


class IntegrationLookup(Protocol):
    async def get(self, name: str) -> Integration: ...


class IncompleteAccess(Exception):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = missing


def remedy_for(error: BloomreachError) -> str:
    if isinstance(error, BloomreachAuthFailed):
        if "project token" in str(error):
            return f"Check the project token: copy it from {WHERE_TOKEN}."
        return (
            f"Check the API key ID and secret ({WHERE_KEYS}); the key must belong to a private "
            "API group with access to this project. A lost secret cannot be shown again: "
            "create a new key."
        )
    if isinstance(error, BloomreachRateLimited):
        return "Bloomreach is rate limiting this project; try again in a minute."
    if isinstance(error, BloomreachRejected):
        return (
            "Check the API URL: it must be your Bloomreach Engagement API base URL, "
            "e.g. https://api.exponea.com (without a path)."
        )
    return (
        "Check the API URL and that this server can reach it (DNS, firewall, proxy); "
        "then try again."
    )


class BloomreachAccessService:
    def __init__(
        self,
        integrations: IntegrationLookup,
        scratch: BloomreachScratch,
        *,
        timeout: float = CHECK_TIMEOUT_SECONDS,
    ) -> None:
        self._integrations = integrations
        self._scratch = scratch
        self._timeout = timeout

    async def _project(self, access: AccessToTry) -> BloomreachProject:
        url, token, key_id, secret = (
            access.api_base_url.strip(),
            access.project_token.strip(),
            access.api_key_id.strip(),
            access.api_secret,
        )
        if access.integration:
            stored = (await self._integrations.get(access.integration)).bloomreach
            url = url or stored.api_base_url
            token = token or stored.project_token
            key_id = key_id or stored.api_key_id
            secret = secret or (stored.api_secret or "")
        missing = [
            label
            for label, value in (
                ("API URL", url),
                ("project token", token),
                ("API key ID", key_id),
                ("API secret", secret),
            )
            if not value
        ]
        if missing:
            raise IncompleteAccess(missing)
        return BloomreachProject(validate_url(url, "api_base_url"), token, key_id, secret)

    async def check(self, access: AccessToTry) -> AccessReport:
        """Reach the tracking API (project token, key) and the data API (private access)."""
        try:
            project = await self._project(access)
        except IncompleteAccess as exc:
            return AccessReport(
                False,
                f"missing: {exc}",
                "Enter the API URL, project token, API key ID and secret.",
            )
        except InvalidArgument as exc:
            return AccessReport(False, str(exc), "Enter the API URL as https://host[:port].")
        try:
            async with self._scratch(project) as client:
                await client.system_time(self._timeout)
                categories = await client.consent_categories(self._timeout)
        except BloomreachError as exc:
            return AccessReport(False, str(exc), remedy_for(exc))
        return AccessReport(
            True,
            f"Bloomreach accepted the project token and API key at {project.base_url} "
            f"({len(categories)} consent categories).",
        )

    async def consent_categories(self, access: AccessToTry) -> list[ConsentCategoryInfo]:
        try:
            project = await self._project(access)
        except IncompleteAccess as exc:
            raise FailedPrecondition(
                f"Bloomreach access is incomplete (missing: {exc}); enter it first"
            ) from exc
        try:
            async with self._scratch(project) as client:
                raw = await client.consent_categories(self._timeout)
        except BloomreachAuthFailed as exc:
            raise FailedPrecondition(f"{exc}. {remedy_for(exc)}") from exc
        except BloomreachError as exc:
            raise UpstreamUnavailable(f"{exc}. {remedy_for(exc)}") from exc
        return [_category(c) for c in raw if isinstance(c.get("id"), str)]


def _category(raw: dict[str, Any]) -> ConsentCategoryInfo:
    name = ""
    translations = raw.get("translations")
    if isinstance(translations, dict):
        for translation in translations.values():
            if isinstance(translation, dict) and isinstance(translation.get("name"), str):
                name = translation["name"]
                break
    return ConsentCategoryInfo(
        id=str(raw["id"]),
        name=name or str(raw["id"]),
        legitimate_interest=bool(raw.get("legitimate_interest")),
    )
