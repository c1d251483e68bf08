"""Reading the README as a reader would: its sections, its console blocks, its links."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


@dataclass
class Command:
    """One `$ ` line of a console block (with its continuation lines) and what it printed."""

    text: str
    output: list[str] = field(default_factory=list)


def section(markdown: str, heading: str) -> str:
    """The text under `## heading`, up to the next heading of that level or above."""
    start = markdown.index(f"\n## {heading}\n")
    rest = markdown[start + len(heading) + 5 :]
    end = re.search(r"^#{1,2} ", rest, flags=re.M)
    return rest[: end.start()] if end else rest


def console_block(text: str) -> list[Command]:
    """The first ```console block: `$ ` starts a command, a line indented by four spaces
    continues it (the previous line ends with a backslash), anything else is its output."""
    body = text.split("```console\n", 1)[1].split("\n```", 1)[0]
    commands: list[Command] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append(Command(line[2:]))
        elif line.startswith("    ") and commands[-1].text.endswith("\\") and not commands[-1].output:
            commands[-1].text += "\n" + line
        else:
            commands[-1].output.append(line)
    return commands


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def links(markdown: str) -> list[str]:
    """Every Markdown link target outside code blocks and code spans."""
    prose = re.sub(r"```.*?```", "", markdown, flags=re.S)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    return re.findall(r"\]\(([^)\s]+)\)", prose)


def cells(row: str) -> int:
    """How many cells a table row has (a `|` escaped or inside a code span divides none)."""
    plain = re.sub(r"`[^`]*`", "", row.replace("\\|", ""))
    return plain.strip().strip("|").count("|") + 1


def ragged_rows(markdown: str) -> list[str]:
    """Rows of a table, separator included, whose cell count is not its header's."""
    ragged: list[str] = []
    header = 0
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("|"):
            header = 0
            continue
        if header == 0:
            header = cells(line)
        elif cells(line) != header:
            ragged.append(line)
    return ragged
