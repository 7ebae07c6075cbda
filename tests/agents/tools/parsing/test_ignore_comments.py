"""`# llmgenie:ignore` comments: file-wide, next block, trailing, `*`."""

from __future__ import annotations

from llmgenie.agents.tools.parsing.ignore_comments import parse_ignore, scan_ignore_comments


def test_parse_ignore() -> None:
    assert parse_ignore("# llmgenie:ignore LG-A-1, lg-b-2") == (
        frozenset({"LG-A-1", "LG-B-2"}),
        False,
    )
    assert parse_ignore("# llmgenie:ignore-file LG-A-1") == (frozenset({"LG-A-1"}), True)
    assert parse_ignore("// llmgenie:ignore all") == (frozenset({"*"}), False)
    assert parse_ignore("# llmgenie:ignore") is None
    assert parse_ignore("# nothing here") is None


def test_scan_ignore_comments() -> None:
    lines = [
        "# llmgenie:ignore LG-FILE",  # 1 leading block: file-wide
        "services:",  # 2
        "  # llmgenie:ignore LG-X",  # 3
        "  web:",  # 4
        "    image: a",  # 5
        "",  # 6
        "    privileged: true",  # 7
        "  db:",  # 8
        "    image: b  # llmgenie:ignore *",  # 9
    ]
    m = scan_ignore_comments(lines)
    assert m.file_ids == frozenset({"LG-FILE"})
    assert [n for n in range(1, 10) if m.is_suppressed("LG-X", n)] == [4, 5, 6, 7, 9]
    assert m.is_suppressed("ANYTHING", 9) and not m.is_suppressed("ANYTHING", 8)
    assert m.is_suppressed("LG-FILE", None)


def test_blank_line_detaches_the_comment() -> None:
    m = scan_ignore_comments(["a: 1", "# llmgenie:ignore LG-X", "", "b: 2"])
    assert not m.is_suppressed("LG-X", 4)
    m = scan_ignore_comments(["a: 1", "# llmgenie:ignore LG-X", "# because", "b: 2"])
    assert m.is_suppressed("LG-X", 4)
