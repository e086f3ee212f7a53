"""Steps 3 and 4: the one hard ID, and the Sitoo field -> properties.* / ids.* table."""

from __future__ import annotations

from aiohttp import web

from console.forms import (
    EXTRA_MAPPING_ROWS,
    HARD_ID_SOURCES,
    ID_NAME_PATTERN,
    SITOO_FIELDS,
    Errors,
    MappingRow,
    mapping_rows,
    match,
    require,
)
from console.views.base import ConsoleView
from sitoo_bloomreach.v1 import admin_pb2 as pb


class MatchingView(ConsoleView):
    step = "matching"

    async def get(self) -> web.StreamResponse:
        integration = await self.integration()
        values = {
            "hard_id_name": integration.matching.hard_id_name,
            "hard_id_source_field": integration.matching.hard_id_source_field,
        }
        return self.render(integration, values, Errors())

    def render(
        self, integration: pb.Integration, values: dict[str, str], errors: Errors
    ) -> web.Response:
        return self.step_page(
            "matching.html",
            integration,
            self.step,
            status=400 if errors else 200,
            values=values,
            errors=errors,
            sources=HARD_ID_SOURCES,
        )

    async def post(self) -> web.StreamResponse:
        form = await self.request.post()
        errors = Errors()
        hard_id = require(errors, form, "hard_id_name", "hard ID name")
        match(errors, "hard_id_name", hard_id, ID_NAME_PATTERN, "Letters, digits, _ and - only.")
        source = require(errors, form, "hard_id_source_field", "Sitoo field")
        if not errors:
            await self.save(
                self.step,
                self.admin.update_integration(
                    self.name,
                    pb.IntegrationInput(hard_id_name=hard_id, hard_id_source_field=source),
                ),
                errors,
            )
        values = {"hard_id_name": hard_id, "hard_id_source_field": source}
        return self.render(await self.integration(), values, errors)


class MappingView(ConsoleView):
    step = "mapping"

    async def get(self) -> web.StreamResponse:
        integration = await self.integration()
        rows = [MappingRow(m.sitoo_field, m.target) for m in integration.field_mappings]
        return self.render(integration, rows, Errors())

    def render(
        self, integration: pb.Integration, rows: list[MappingRow], errors: Errors
    ) -> web.Response:
        rows = rows + [MappingRow("", "")] * EXTRA_MAPPING_ROWS
        return self.step_page(
            "mapping.html",
            integration,
            self.step,
            status=400 if errors else 200,
            rows=rows,
            errors=errors,
            fields=SITOO_FIELDS,
        )

    async def post(self) -> web.StreamResponse:
        form = await self.request.post()
        errors = Errors()
        rows = mapping_rows(form, errors)
        if not errors:
            await self.save(
                self.step,
                self.admin.update_integration(
                    self.name,
                    pb.IntegrationInput(
                        set_field_mappings=True,
                        field_mappings=[
                            pb.FieldMapping(sitoo_field=r.sitoo_field, target=r.target)
                            for r in rows
                        ],
                    ),
                ),
                errors,
            )
        return self.render(await self.integration(), rows, errors)
