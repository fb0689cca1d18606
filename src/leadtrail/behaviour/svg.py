"""The click map's density grid as an SVG image (one rectangle per non-empty cell, opacity
by count relative to the busiest cell). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

CELL_W, CELL_H = 20, 12


def density_svg(cells: Sequence[Sequence[int]], columns: int, rows: int, title: str) -> str:
    width, height = columns * CELL_W, rows * CELL_H
    peak = max((c[2] for c in cells), default=0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#f4f5f7"/>',
    ]
    for gx, gy, count in cells:
        if count <= 0 or not (0 <= gx < columns and 0 <= gy < rows):
            continue
        alpha = 0.15 + 0.85 * count / peak
        parts.append(
            f'<rect x="{gx * CELL_W}" y="{gy * CELL_H}" width="{CELL_W}" height="{CELL_H}" '
            f'fill="#d7263d" fill-opacity="{alpha:.2f}"><title>{count}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)
