"""The one-stop back office (motcua.tayninh.gov.vn): a login page and a dossier look-up form, nothing more.

Submitting either form is a trap: a polite crawler records the page's availability and never logs in.
"""

from __future__ import annotations

from sim.http import Request, Response, Site
from sim.render import render
from sim.spec import MOTCUA_SITE


class MotcuaSite(Site):
    server_header = "Microsoft-IIS/10.0"

    def __init__(self) -> None:
        super().__init__(MOTCUA_SITE)

    def robots_txt(self) -> str:
        return "User-agent: *\nDisallow: /api/\n"

    def handle(self, request: Request) -> Response:
        if request.path == "/":
            return Response.redirect("/Account/Login?ReturnUrl=%2F", 302)
        if request.path == "/Account/Login":
            if request.method == "POST":
                self.trap(request)
                return Response.html("<html><body>Sai tên đăng nhập hoặc mật khẩu</body></html>", 401)
            return Response.html(render("motcua/login.html"))
        if request.path == "/tra-cuu-ho-so":
            if request.method == "POST" or request.arg("SoBienNhan"):
                self.trap(request)
            return Response.html(render("motcua/lookup.html"))
        return Response.html("<html><body><h1>404</h1></body></html>", 404)
