"""Sign-in with the admin credential, sign-out, and the liveness probe."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from console.forms import text
from console.keys import ADMIN, SESSION
from console.templating import render

log = logging.getLogger(__name__)


class SignInView(web.View):
    async def get(self) -> web.StreamResponse:
        if self.request[SESSION].signed_in:
            raise web.HTTPSeeOther("/")
        return render(self.request, "signin.html", {"error": ""})

    async def post(self) -> web.StreamResponse:
        form = await self.request.post()
        token = text(form, "admin_token")
        expected = self.request.app[ADMIN].admin_token
        if not token or not hmac.compare_digest(token.encode(), expected.encode()):
            log.warning("console sign-in refused", extra={"remote": self.request.remote})
            return render(
                self.request,
                "signin.html",
                {"error": "That is not the admin token of this installation."},
                status=401,
            )
        session = self.request[SESSION]
        session.sign_in()
        session.set_flash("Signed in.")
        raise web.HTTPSeeOther("/")


class SignOutView(web.View):
    async def post(self) -> web.StreamResponse:
        self.request[SESSION].sign_out()
        raise web.HTTPSeeOther("/signin")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})
