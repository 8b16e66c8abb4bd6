"""Renderer cost per streamed character: a huge one-line paragraph must stay linear. Not a test:
run `python bench/bench_render.py` and read the table.

Streams paragraphs of growing size (one line, no newline until the end) through the REPL's
`Renderer` in 4-character deltas, the live region on (as on a terminal) and writing to a null
sink, and prints the time per size and per MB. Linear: the µs/char column stays flat. Before
issue 16's fix the unfinished line was re-copied at every delta (500 KB took 54 s, 1 MB minutes).

    python bench/bench_render.py [--sizes 250000,500000,1000000] [--delta 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def stream_paragraph(size: int, delta: int) -> float:
    """Seconds to stream `size` characters of one paragraph through a live Renderer."""
    from hermes_cli.repl.render import Renderer

    renderer = Renderer(width=120, write=lambda text: None, color=True)
    renderer.enable_live(write=lambda text: None)
    text = ("lorem ipsum dolor sit amet " * (size // 27 + 1))[:size]
    renderer.start_turn()
    started = time.perf_counter()
    for i in range(0, size, delta):
        renderer.on_event(SimpleNamespace(type="text", text=text[i:i + delta]))
    renderer.end_turn({})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="250000,500000,1000000")
    parser.add_argument("--delta", type=int, default=4)
    args = parser.parse_args()
    stream_paragraph(10_000, args.delta)  # imports and first-render costs out of the way
    print(f"{'size':>10}  {'seconds':>8}  {'µs/char':>8}")
    for size in map(int, args.sizes.split(",")):
        seconds = stream_paragraph(size, args.delta)
        print(f"{size:>10,}  {seconds:>8.2f}  {seconds / size * 1e6:>8.2f}")


if __name__ == "__main__":
    main()
