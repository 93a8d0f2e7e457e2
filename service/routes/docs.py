"""The API's description: `GET /openapi.json`, the document, and `GET /docs`, the API page:
Swagger UI on that document, its assets served by the service (service/static/swagger-ui),
so it works with no internet. `GET /` redirects there."""

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from service.openapi import load_openapi
from service.routes import route
from service.web import JSONResponse

OPENAPI = load_openapi()
ASSETS = Path(__file__).resolve().parents[1] / "static" / "swagger-ui"

# tryItOutEnabled opens every operation ready to send; validatorUrl null keeps the page from
# sending the document to swagger.io's validator.
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Enrollment service API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      tryItOutEnabled: true,
      validatorUrl: null,
    });
  </script>
</body>
</html>
"""


async def openapi(request: Request) -> Response:
    return JSONResponse(OPENAPI)


async def api_page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def to_api_page(request: Request) -> Response:
    return RedirectResponse("/docs", status_code=302)


routes = [
    route("/openapi.json", "GET", openapi),
    route("/docs", "GET", api_page),
    route("/", "GET", to_api_page),
    Mount("/docs/assets", app=StaticFiles(directory=ASSETS), name="api_page_assets"),
]
