"""Put a run's summary into the peers page of the docs between two markers, so the
page shows exactly what a command produced (and says which command)."""

from __future__ import annotations

from pathlib import Path

BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"


def splice(text: str, block: str) -> str:
    """Replace what lies between the markers; refuse if they are missing or out of order."""
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < start:
        raise ValueError(f"page has no {BEGIN} ... {END} block")
    return text[: start + len(BEGIN)] + "\n" + block.strip() + "\n" + text[stop:]


def summary(markdown: str, chart: str | None) -> str:
    """The report without its title and settings table (those stay in the results file)."""
    body = markdown.split("\n## Settings", 1)[0]
    lines = body.splitlines()[2:]  # drop "# Peer benchmark" and the blank line after it
    # The page's own sections are "##": the report's become "###" under "The last full run".
    text = "\n".join(line.replace("## ", "### ", 1) if line.startswith("## ") else line
                     for line in lines)  # fmt: skip
    image = f"\n\n![Peer benchmark: drain and enqueue rates]({chart})" if chart else ""
    return text.strip() + image + "\n\nSettings of each library: `benchmarks/results/peers.md`."


def update(page: Path, markdown: str, chart: str | None) -> None:
    page.write_text(splice(page.read_text(), summary(markdown, chart)))
