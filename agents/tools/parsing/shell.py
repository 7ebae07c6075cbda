"""The commands of a POSIX shell text (a Dockerfile `RUN`), split as the shell splits them.

`bashlex` was evaluated on the shared corpus's Dockerfiles and rejected: it fails on 8 of the
75 RUN instructions of docker-postgres (`case … esac` is not implemented, and `$(…)` inside
some arithmetic), exactly the long RUNs that install packages. This is a tokenizer instead,
built on the standard library's `shlex` (quotes, escapes, operators): it yields each simple
command's words and whether it reads from a pipe. Quoted text stays one word, so `echo "a | b"`
has no pipe; `$(…)` and `(…)` bodies are commands of their own; shell keywords (`if`, `then`,
`do`, `case` patterns…) are not commands. A text that does not tokenize (an unclosed quote)
falls back to a whitespace split, never an error.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Command", "commands"]

_SEPARATORS = frozenset({";", "&&", "||", "&", "(", ")", ";;", "\n", "$", "`"})
_KEYWORDS = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case",
     "esac", "{", "}", "!", "function"}
)  # fmt: skip
_SUDO_ARGS = frozenset({"-u", "-g", "-C", "-h", "-p", "-U", "-r", "-t", "-D"})
_PREFIXES = frozenset({"sudo", "env", "exec", "command", "time", "nohup", "xargs"})


@dataclass(frozen=True)
class Command:
    """One simple command: its words (assignments and `sudo`/`env` prefixes removed into
    `prefixes`), and whether its input is the previous command's output (`a | b`)."""

    words: tuple[str, ...]
    piped: bool
    prefixes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.words[0].rsplit("/", 1)[-1] if self.words else ""

    def args(self) -> tuple[str, ...]:
        return self.words[1:]


def _tokens(text: str) -> list[str]:
    text = text.replace("\\\n", " ").replace("\n", " ; ")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        return text.replace(";", " ; ").replace("|", " | ").split()


def commands(text: str) -> Iterator[Command]:
    """Every simple command of `text`, in order."""
    words: list[str] = []
    piped = False
    in_pattern = False  # inside `case WORD in PATTERN)`: words up to `)` are no command

    def flush() -> Command | None:
        nonlocal words
        prefixes: list[str] = []
        body = list(words)
        words = []
        while body and (body[0] in _KEYWORDS or body[0] in _PREFIXES or _assignment(body[0])):
            if body[0] in _PREFIXES:
                prefixes.append(body[0])
            body.pop(0)
            while prefixes and prefixes[-1] == "sudo" and body and body[0].startswith("-"):
                flag = body.pop(0)
                if flag in _SUDO_ARGS and body:
                    body.pop(0)
        return Command(tuple(body), piped, tuple(prefixes)) if body else None

    for tok in _tokens(text):
        if words[:1] == ["case"] and tok == "in":
            words, in_pattern = [], True
            continue
        if in_pattern:
            if tok == "esac":
                in_pattern = False
            elif tok == ")":
                in_pattern = False
                piped = False
            continue
        if tok == ";;":
            cmd = flush()
            if cmd:
                yield cmd
            in_pattern = True
            continue
        if tok in ("|", "|&") and not in_pattern:
            cmd = flush()
            if cmd:
                yield cmd
            piped = True
            continue
        if tok in _SEPARATORS or all(c in ";&|()" for c in tok):
            cmd = flush()
            if cmd:
                yield cmd
            piped = False
            continue
        if tok in (">", ">>", "<", "2>", ">&"):
            words.append(tok)
            continue
        words.append(tok)
    cmd = flush()
    if cmd:
        yield cmd


def _assignment(word: str) -> bool:
    name, eq, _ = word.partition("=")
    return bool(eq) and name.replace("_", "a").isalnum() and not name[0].isdigit()
