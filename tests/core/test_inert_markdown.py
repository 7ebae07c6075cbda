"""inert_markdown: target and model text reaches the Prefect UI as text, never as HTML or an
image, whatever shape the Markdown around it takes. The oracle is the CommonMark parse of the
result: it must hold no raw HTML and no image."""

from __future__ import annotations

import random

import pytest
from markdown_it import MarkdownIt

from llmgenie.core.inert_markdown import inert_markdown

_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _live(md: str) -> list[str]:
    """The raw HTML and images a CommonMark renderer makes of `md`."""
    found = []
    for t in _PARSER.parse(md):
        for x in [t, *(t.children or [])]:
            if x.type in ("html_block", "html_inline", "image"):
                found.append(f"{x.type}: {x.content or x.attrs}")
    return found


def test_no_tag_or_image_is_left_outside_code() -> None:
    hostile = (
        "# <script>alert(1)</script>\n"
        "| f | <img src=x onerror=alert(1)> |\n"
        "see ![pixel](http://tracker.example/p.png) and <http://example.com>\n"
        "escaped \\`<img src=y>` backtick\n"
    )
    out = inert_markdown(hostile)
    assert "<" not in out and "![" not in out
    assert "&lt;script>alert(1)&lt;/script>" in out and "!\\[pixel]" in out
    assert _live(out) == []


def test_code_is_left_as_written() -> None:
    code = (
        "run `kubectl get pods | grep <name>` first\n"
        "```yaml\nimage: <registry>/app\n```\n"
        "~~~~\n<raw>\n~~~\n~~~~\n"
        "``a`<b>`` spans\n"
        "> ```\n> <in a quote>\n> ```\n"
        "    <indented code>\n"
    )
    assert inert_markdown(code) == code


@pytest.mark.parametrize(
    ("name", "md"),
    [
        # a fence inside a list item ends with the item: what follows is HTML to a renderer
        ("fence closed by its list item", "- item\n  ```\n<img src=x onerror=alert(1)>\n```\n"),
        ("fence after a list", "1. x\n\n   ```\n<svg onload=alert(1)>\n"),
        # escaping `<!--` reveals the fence the comment hid, which then closes the real one
        ("fence hidden in a comment", "<!--\n```\n-->\n```\n<img src=x onerror=1>\n```\n"),
        # a code span runs over lines: the second backtick on the line closes it, not opens one
        ("code span over two lines", "`x\ny` <img src=x onerror=1> `z`\n"),
        ("carriage returns end lines", "a\r```\r<b>\r```\r<img src=x onerror=1>"),
        ("a reference image", "![a][r]\n\n[r]: http://tracker.example/p.png\n"),
    ],
)
def test_what_a_line_scanner_reads_wrong_is_still_inert(name: str, md: str) -> None:
    assert _live(md), f"{name}: the case must be live before"
    out = inert_markdown(md)
    assert _live(out) == [], name


def test_a_fence_with_an_info_string_does_not_close_one() -> None:
    md = "```\na\n```js\n<in code>\n```\n<after>\n"
    assert inert_markdown(md) == "```\na\n```js\n<in code>\n```\n&lt;after>\n"
    # an unclosed fence is code to the end
    assert inert_markdown("```\n<x>") == "```\n<x>"


def test_random_markdown_never_renders_html_or_images() -> None:
    # pieces that open and close code, containers and HTML in every order
    pieces = [
        "```",
        "~~~",
        "  ```",
        "    ",
        "`",
        "``",
        "\\`",
        "- ",
        "1. ",
        "> ",
        "<!--",
        "-->",
        "<div>",
        "</div>",
        "<pre>",
        "<img src=x onerror=1>",
        "<http://a.example>",
        "![a](p.png)",
        "![",
        "[r]: http://t.example/p.png",
        "| a | b |",
        "|---|---|",
        "text",
        "&lt;",
        "\t",
        "\n",
        "\n",
        "\n",
        "\r\n",
        "\r",
    ]
    rng = random.Random(20261203)
    for _ in range(1500):
        md = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 24)))
        out = inert_markdown(md)
        assert _live(out) == [], repr(md)
        assert inert_markdown(out) == out, repr(md)  # already inert: nothing more to do
