"""CSV downloads: one shape for every report and export the API offers as a file."""

from __future__ import annotations

from starlette.responses import Response


class CsvResponse(Response):
    """For ``response_class``: documents a route's answer as ``text/csv`` in OpenAPI."""

    media_type = "text/csv"


def csv_download(filename: str, text: str) -> Response:
    """``text`` (CSV) as an attachment the browser saves under ``filename``."""
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
