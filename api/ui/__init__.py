"""The web dashboard at `/ui/`: server-rendered pages (Jinja2), partial updates with htmx, charts
with ECharts (vendored under static/vendor, no network at run time).

How access works: a page address (`/ui/pipeline`) answers a shell without data, which anyone may
load; the browser keeps the API key in sessionStorage and sends it as `Authorization: Bearer` on
the htmx request for the page's content (`/ui/part/pipeline`). That request passes the same
authentication middleware as the API, and the content is built only from sub-requests to the
JSON API made in-process with the caller's own key: every role limit, record visibility rule and
`Allow` policy of the API applies unchanged (a rep asking for another rep's statement gets the
API's 404). The UI routes are plain Starlette routes, not API routes: they are not in the OpenAPI
document and declare no policy of their own because they read and write nothing but the API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from api.ui import i18n, pages
from api.ui.paths import PART, PREFIX, STATIC

HERE = Path(__file__).parent

env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
i18n.install(env)


def lang_of(request: Request) -> str:
    return "en" if request.cookies.get("sl_lang") == "en" else "zh"


# -- sub-requests to the JSON API with the caller's key ----------------------------------------
@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("message", ""))
        return str(self.body)[:200]


class Api:
    """Calls the app's own JSON routes in-process (the full middleware stack: authentication,
    access policies, validation) as the signed-in caller."""

    def __init__(self, request: Request) -> None:
        self.app = request.app
        self.headers = [(b"authorization", request.headers.get("authorization", "").encode("latin-1"))]
        correlation = request.headers.get("x-correlation-id")
        if correlation:
            self.headers.append((b"x-correlation-id", correlation.encode("latin-1")))

    async def call(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None) -> Answer:
        query = urlencode({k: v for k, v in (params or {}).items() if v not in (None, "")})
        payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = list(self.headers)
        if body is not None:
            headers += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        raw = quote(path, safe="/~")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": raw.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": ("ui.internal", 80),
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}

        status, chunks, out_headers = 500, [], {}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                out_headers.update({k.decode().lower(): v.decode("latin-1") for k, v in message.get("headers", [])})
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, send)
        except Exception:  # the app has answered 500 (and logged it); the page shows that answer
            status = 500 if status < 500 else status
        data = b"".join(chunks)
        content: Any = data
        if out_headers.get("content-type", "").startswith("application/json"):
            content = json.loads(data or b"null")
        return Answer(status, content, out_headers)

    async def get(self, path: str, **params: Any) -> Answer:
        return await self.call("GET", path, params)

    async def post(self, path: str, body: Any = None) -> Answer:
        return await self.call("POST", path, body=body if body is not None else {})


# -- routes --------------------------------------------------------------------------------------
def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    html = env.get_template(template).render(lang=lang, request=request, **context)
    return HTMLResponse(html, status_code=status_code)


async def shell(request: Request) -> Response:
    page = request.path_params.get("page", "") or "home"
    if page == "login":
        return render(request, "login.html", page="login")
    if page.split("/")[0] not in pages.PAGES:
        return render(request, "shell.html", status_code=404, page="missing", part_url="", nav=pages.NAV)
    part = PART + quote(page, safe="/~") + (f"?{request.url.query}" if request.url.query else "")
    return render(request, "shell.html", page=page.split("/")[0], part_url=part, nav=pages.NAV)


async def part(request: Request) -> Response:
    page = request.path_params["page"]
    name, _, rest = page.partition("/")
    handler = pages.PAGES.get(name)
    if handler is None:
        return HTMLResponse("not found", status_code=404)
    ctx = pages.Ctx(request=request, api=Api(request), lang=lang_of(request), arg=rest)
    who = await ctx.api.get("/auth/whoami")
    if not who.ok:
        return HTMLResponse(who.error, status_code=who.status)
    ctx.me = who.body
    if request.method == "POST":
        ctx.form = dict(await request.form())
    template, context = await handler(ctx)
    return render(request, template, me=ctx.me, page=name, **context)


async def root(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=307)


def install(app: FastAPI) -> None:
    app.router.routes.extend(
        [
            Mount(STATIC.rstrip("/"), app=StaticFiles(directory=HERE / "static"), name="ui-static"),
            Route(PREFIX, root, methods=["GET"]),
            Route(PART + "{page:path}", part, methods=["GET", "POST"]),
            Route(f"{PREFIX}/", shell, methods=["GET"]),
            Route(f"{PREFIX}/{{page:path}}", shell, methods=["GET"]),
        ]
    )
