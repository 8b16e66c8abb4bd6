"""Streaming at token granularity: the markdown stream's provisional tail, its cost on huge
paragraphs, and the live region (provisional text, status line, input line) on an emulated screen."""

from __future__ import annotations

from hermes_cli.repl.markdown_stream import MarkdownStream


def _words(n: int) -> str:
    return ("lorem ipsum dolor sit amet " * (n // 27 + 1))[:n]


def test_a_huge_one_line_paragraph_is_not_copied_per_token() -> None:
    # Before: the paragraph's unfinished line was kept whole and re-concatenated at every token
    # (1 MB took minutes). Now the part already moved into output is cut away as it goes.
    stream = MarkdownStream()
    text = _words(200_000)
    released = []
    longest = 0
    for i in range(0, len(text), 4):
        released += stream.feed(text[i:i + 4], 80)
        longest = max(longest, len(stream.partial), len(stream.plain_text))
    released += stream.finish(80)
    assert longest < 1000  # at most the first few lines, before the paragraph goes line by line
    assert " ".join(" ".join(c.text.split()) for c in released) == " ".join(text.split())
