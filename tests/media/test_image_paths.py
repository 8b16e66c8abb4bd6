"""Image paths pasted or dragged into a prompt, as terminals paste them; and the file checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.images import ImageError, find_pasted_images, load_image, sniff_mime, starts_with_path
from tests.media.images import JPEG, write_png


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    write_png(tmp_path / "shot.png")
    write_png(tmp_path / "My Shots" / "screen shot 1.PNG")
    (tmp_path / "photo.jpeg").write_bytes(JPEG)
    (tmp_path / "notes.txt").write_text("hi", encoding="utf-8")
    return tmp_path


def test_paths_found_in_the_forms_terminals_paste(shots: Path):
    spaced = shots / "My Shots" / "screen shot 1.PNG"
    cases = {
        f"{shots}/shot.png": ("[image: shot.png]", [shots / "shot.png"]),
        f"look at {shots}/shot.png please": ("look at [image: shot.png] please", [shots / "shot.png"]),
        str(spaced).replace(" ", "\\ ") + " what?": ("[image: screen shot 1.PNG] what?", [spaced]),
        f"'{spaced}' and \"{shots}/photo.jpeg\"": ("[image: screen shot 1.PNG] and [image: photo.jpeg]",
                                                  [spaced, shots / "photo.jpeg"]),
        "file://" + str(spaced).replace(" ", "%20"): ("[image: screen shot 1.PNG]", [spaced]),
        "./shot.png is it?": ("[image: shot.png] is it?", [shots / "shot.png"]),
        f"what's in {shots}/shot.png? it's red": ("what's in [image: shot.png]? it's red", [shots / "shot.png"]),
        f"see ({shots}/shot.png).": ("see ([image: shot.png]).", [shots / "shot.png"]),
    }
    for typed, expected in cases.items():
        assert find_pasted_images(typed, shots) == expected, typed


def test_words_that_are_not_pasted_images_stay_text(shots: Path):
    for typed in ("shot.png is a bare name, not a path", f"{shots}/missing.png", f"{shots}/notes.txt",
                  f"{shots}", "rename ./a.png to ./b.png", "http://example.com/x.png", ""):
        assert find_pasted_images(typed, shots) == (typed, []), typed


def test_a_line_starting_with_a_dragged_path_is_not_a_command(shots: Path):
    assert starts_with_path(f"{shots}/shot.png what is it?")
    assert starts_with_path(f"'{shots}/My Shots/screen shot 1.PNG'")
    assert not starts_with_path("/help")
    assert not starts_with_path("/model gpt-4o")
    assert not starts_with_path(f"/image {shots}/shot.png")


def test_type_comes_from_the_bytes_and_bad_files_say_why(shots: Path):
    assert sniff_mime(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_mime(b"GIF89a....") == "image/gif"
    assert load_image(shots / "photo.jpeg").mime == "image/jpeg"
    with pytest.raises(ImageError, match="is not a PNG, JPEG, GIF or WebP image"):
        load_image(shots / "notes.txt")
    with pytest.raises(ImageError, match="over the 1 MB limit"):
        big = shots / "big.png"
        big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 2_000_000)
        load_image(big, max_bytes=1024 * 1024)
    with pytest.raises(ImageError, match="not a file"):
        load_image(shots / "My Shots")


def test_tab_after_slash_image_offers_pictures_and_directories(shots: Path, monkeypatch):
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from hermes_cli.repl.completer import SlashCompleter

    monkeypatch.chdir(shots)
    completer = SlashCompleter.__new__(SlashCompleter)  # the /image branch needs no REPL state
    completer.arguments = {}

    def offered(text: str) -> list[str]:
        return sorted(c.text for c in completer.get_completions(Document(text, len(text)), CompleteEvent()))

    assert offered("/image ") == ["My Shots", "photo.jpeg", "shot.png"]  # not notes.txt
    assert offered("/image My Shots/scr") == ["een shot 1.PNG"]
