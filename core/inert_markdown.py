"""Markdown made inert: text from targets and models is shown where it is rendered, never run.

Reports carry text llmgenie does not control: file and resource names and evidence from the
target, a model's narrative. Published to the Prefect UI as Markdown, `<img src=x onerror=…>`
would become HTML and `![](http://tracker/p.png)` would be fetched by whoever opens the run.
`inert_markdown` escapes `<` (no tag, no autolink) and `![` (no image) wherever they are not
code, and leaves code as written, since renderers show code as text.

What is code is decided by a CommonMark parser (markdown-it-py), not by a scanner of our own:
a fence inside a list item ends with the item, an HTML comment hides a fence, a code span may
run over several lines. Escaping can itself change the parse (an escaped `<!--` no longer hides
the fence in it), so the result is parsed again until its own parse holds no HTML and no
image; a line that still does is escaped whole, code spans included. See decision 0017.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["inert_markdown"]

# CommonMark with the GitHub tables and strikethrough the reports use. Blocks are parsed
# whole; inline runs only where something could be live (see `_parse`): a 50 KB findings
# table is 17 ms of blocks and 100 ms more of cells.
_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"]).disable("inline")
#: An inline code span on one line: a backtick run not escaped, closed by a run of the same
#: length. Only a first guess: the parse below has the last word.
_CODE_SPAN = re.compile(r"(?<![\\`])(`+)(?!`)(.*?[^`])\1(?!`)")
#: A line as CommonMark counts them: CR LF, CR and LF end one, nothing else does.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_CODE_BLOCKS = {"fence", "code_block"}
_LIVE = {"html_block", "html_inline", "image"}
#: Each pass escapes at least one more `<` or `![`; real reports settle in one or two.
_MAX_PASSES = 8


def inert_markdown(md: str) -> str:
    """`md` with every `<` and `![` outside code escaped, as a CommonMark renderer reads it."""
    if "<" not in md and "![" not in md:
        return md  # raw HTML needs a `<`, an image a `![`: nothing here can be live
    lines = _LINE.findall(md)
    code = _code_lines(_PARSER.parse(md))
    out = [line if i in code else _inert_line(line) for i, line in enumerate(lines)]
    for _ in range(_MAX_PASSES):
        live = _live_lines(_parse("".join(out)))
        if not live:
            return "".join(out)
        changed = False
        for i in live & set(range(len(out))):
            text = _inert_text(out[i])
            changed |= text != out[i]
            out[i] = text
        if not changed:  # live markup with nothing left to escape on its lines: never seen
            break
    return _inert_text(md)  # everything escaped, code too: shown with entities, never run


def _parse(md: str) -> list[Token]:
    """Block tokens; inline children only for runs holding a `<` or a `![`, which is what raw
    HTML and images need (markdown-it's own inline rule, applied where it can matter)."""
    env: dict[str, object] = {}  # link reference definitions: `![a][ref]` needs them
    tokens = _PARSER.parse(md, env)
    for t in tokens:
        if t.type == "inline" and ("<" in t.content or "![" in t.content):
            t.children = []
            _PARSER.inline.parse(t.content, _PARSER, env, t.children)
    return tokens


def _code_lines(tokens: list[Token]) -> set[int]:
    return {
        i
        for t in tokens
        if t.type in _CODE_BLOCKS and t.map is not None
        for i in range(t.map[0], t.map[1])
    }


def _live_lines(tokens: list[Token]) -> set[int]:
    """Lines whose parse holds raw HTML or an image."""
    lines: set[int] = set()
    for t in tokens:
        live = t.type in _LIVE or any(c.type in _LIVE for c in t.children or [])
        if live and t.map is not None:
            lines.update(range(t.map[0], t.map[1]))
    return lines


def _inert_line(line: str) -> str:
    parts, end = [], 0
    for span in _CODE_SPAN.finditer(line):
        parts += [_inert_text(line[end : span.start()]), span.group(0)]
        end = span.end()
    parts.append(_inert_text(line[end:]))
    return "".join(parts)


def _inert_text(text: str) -> str:
    return text.replace("<", "&lt;").replace("![", "!\\[")
