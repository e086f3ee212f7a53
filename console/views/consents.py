"""Step 5: consents offered in the POS, picked from the project's real consent categories."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from aiohttp import web

from console.forms import CHANNELS, ID_NAME_PATTERN, Errors, Form, checked, match, text
from console.views.base import ConsoleView
from sitoo_bloomreach.v1 import admin_pb2 as pb


@dataclass(frozen=True)
class ConsentRow:
    category: str
    category_name: str
    offered: bool
    consent_id: str
    label: str
    default_value: bool
    in_project: bool


def consent_rows(
    categories: list[pb.ConsentCategory], current: list[pb.ConsentType]
) -> list[ConsentRow]:
    by_category = {c.category: c for c in current}
    rows = [
        ConsentRow(
            category=c.id,
            category_name=c.name,
            offered=c.id in by_category,
            consent_id=by_category[c.id].consent_id if c.id in by_category else c.id,
            label=by_category[c.id].label if c.id in by_category else c.name,
            default_value=by_category[c.id].default_value if c.id in by_category else False,
            in_project=True,
        )
        for c in categories
    ]
    known = {c.id for c in categories}
    rows += [
        ConsentRow(c.category, c.category, True, c.consent_id, c.label, c.default_value, False)
        for c in current
        if c.category not in known
    ]
    return rows


def parse_consents(form: Form, rows: list[ConsentRow], errors: Errors) -> list[pb.ConsentType]:
    chosen: list[pb.ConsentType] = []
    for index, row in enumerate(rows):
        if not checked(form, f"offer_{index}"):
            continue
        consent_id = text(form, f"consent_id_{index}") or row.category
        match(errors, f"consent_id_{index}", consent_id, ID_NAME_PATTERN, "Letters, digits, _ -.")
        chosen.append(
            pb.ConsentType(
                consent_id=consent_id,
                category=row.category,
                label=text(form, f"label_{index}") or row.category_name,
                default_value=text(form, f"default_{index}") == "yes",
            )
        )
    return chosen


class ConsentsView(ConsoleView):
    step = "consents"

    async def _categories(self) -> tuple[list[pb.ConsentCategory], str]:
        try:
            return await self.admin.consent_categories(self.name), ""
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNAVAILABLE):
                return [], exc.details() or exc.code().name
            raise

    def render(
        self,
        integration: pb.Integration,
        rows: list[ConsentRow],
        fetch_error: str,
        errors: Errors,
        channels: dict[str, str],
    ) -> web.Response:
        return self.step_page(
            "consents.html",
            integration,
            self.step,
            status=400 if errors else 200,
            rows=rows,
            fetch_error=fetch_error,
            errors=errors,
            channels=CHANNELS,
            channel_values=channels,
        )

    async def get(self) -> web.StreamResponse:
        integration = await self.integration()
        categories, fetch_error = await self._categories()
        rows = consent_rows(categories, list(integration.consent_types))
        channels = dict(integration.channel_categories)
        return self.render(integration, rows, fetch_error, Errors(), channels)

    async def post(self) -> web.StreamResponse:
        form = await self.request.post()
        integration = await self.integration()
        categories, fetch_error = await self._categories()
        rows = consent_rows(categories, list(integration.consent_types))
        errors = Errors()
        consents = parse_consents(form, rows, errors)
        row_categories = {row.category for row in rows}
        channels = {
            channel: text(form, f"channel_{channel}")
            for channel, _ in CHANNELS
            if text(form, f"channel_{channel}") in row_categories
        }
        if fetch_error and not rows:
            errors.form = "The consent categories could not be read; nothing was saved."
        if not errors:
            await self.save(
                self.step,
                self.admin.update_integration(
                    self.name,
                    pb.IntegrationInput(
                        set_consent_types=True,
                        consent_types=consents,
                        set_channel_categories=True,
                        channel_categories=channels,
                    ),
                ),
                errors,
            )
        return self.render(integration, rows, fetch_error, errors, channels)
