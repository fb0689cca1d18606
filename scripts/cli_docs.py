"""Write docs/cli.md from the real ``--help`` output (a test checks it is current).

Usage: python scripts/cli_docs.py > docs/cli.md
"""

from __future__ import annotations

import click

from leadtrail.cli import main


def walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found += walk(command.commands[name], [*path, name])
    return found


def render() -> str:
    out = [
        "# Command line reference",
        "",
        "Generated from `--help` by `python scripts/cli_docs.py > docs/cli.md`; a test keeps it current.",
        "Every command reports a problem as one `error: ...` line and exits non-zero.",
        "",
    ]
    for path, command in walk(main, ["leadtrail"]):
        ctx = click.Context(
            command,
            info_name=" ".join(path),
            terminal_width=100,
            max_content_width=100,
            help_option_names=["-h", "--help"],
        )
        out += [f"## `{' '.join(path)}`", "", "```", command.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
