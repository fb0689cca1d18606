"""Write the scope table of docs/security.md from web/access_table.py (a test checks they agree).

Usage: python scripts/scope_table.py    (rewrites the table in place)
"""

from __future__ import annotations

from pathlib import Path

from leadtrail.web.access_table import REQUIRED, SCOPE_GRANTS, USER

DOC = Path(__file__).resolve().parents[1] / "docs" / "security.md"
HEADER = "| operation | needs | `read` key | `ingest` key | `admin` key |"
ORDER = ["public", "any", "read", "ingest", "admin", USER]


def cell(need: str, scope: str) -> str:
    if need == USER:
        return "401"
    return "yes" if need in SCOPE_GRANTS[scope] else "**403**"


def render() -> list[str]:
    rows = sorted(
        REQUIRED.items(), key=lambda kv: (ORDER.index(kv[1]), kv[0].split(" ", 1)[1], kv[0])
    )
    lines = [HEADER, "| --- | --- | --- | --- | --- |"]
    for name, need in rows:
        lines.append(
            f"| `{name}` | {need} | "
            + " | ".join(cell(need, s) for s in ("read", "ingest", "admin"))
            + " |"
        )
    return lines


def main() -> None:
    text = DOC.read_text().split("\n")
    start = text.index(HEADER)
    end = start
    while end < len(text) and text[end].startswith("|"):
        end += 1
    DOC.write_text("\n".join([*text[:start], *render(), *text[end:]]))


if __name__ == "__main__":
    main()
