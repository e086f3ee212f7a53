"""Sign-in with the admin credential, sign-out, and the liveness probe."""

from __future__ import annotations

import hmac
import logging
import math

from aiohttp import web

from console.forms import text
from console.keys import ADMIN, SESSION, SIGN_IN_THROTTLE
from console.templating import render

log = logging.getLogger(__name__)


class SignInView(web.View):
    async def get(self) -> web.StreamResponse:
        if self.request[SESSION].signed_in:
            raise web.HTTPSeeOther("/")
        return render(self.request, "signin.html", {"error": ""})

    async def post(self) -> web.StreamResponse:
        throttle = self.request.app[SIGN_IN_THROTTLE]
        address = self.request.remote or "unknown"
        wait_s = throttle.retry_after(address)
        if wait_s > 0:
            seconds = math.ceil(wait_s)
            response = render(
                self.request,
                "signin.html",
                {"error": f"Too many wrong tokens. Try again in {seconds} s."},
                status=429,
            )
            response.headers["Retry-After"] = str(seconds)
            return response
        form = await self.request.post()
        token = text(form, "admin_token")
        expected = self.request.app[ADMIN].admin_token
        if not token or not hmac.compare_digest(token.encode(), expected.encode()):
            throttle.failed(address)
            log.warning("console sign-in refused", extra={"remote": address})
            return render(
                self.request,
                "signin.html",
                {"error": "That is not the admin token of this installation."},
                status=401,
            )
        throttle.succeeded(address)
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
