"""Shared by the Terraform rule groups: the resolving parser, where a hit points, the rule set."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from llmgenie.core.models import FileKind

from ..parsing.terraform import TerraformFile, TfBlock
from ..parsing.terraform_resolve import parse_resolved
from ..registry import Registry
from ..rules import Hit, RuleSet

__all__ = ["TfRuleSet", "at", "register_parser"]

Check = Callable[[TerraformFile, Any], Iterable[Hit]]


def at(
    b: TfBlock, key: str | None = None, nth: int = 0, within: str | None = None
) -> dict[str, Any]:
    """`file=`, `line=` and `resource=` of a hit on `b`: the line that decides `key`'s value
    (a variable default, a tfvars line, a module call) when it was resolved, else where the
    attribute (or the block, when `key` is None or absent) is written."""
    if key is None:
        file = b._file.file if b._file is not None else None
        return {"file": file, "line": b.line, "resource": b.address}
    file, line = b.where(key, nth, within)
    return {"file": file, "line": line, "resource": b.address}


class TfRuleSet(RuleSet[TerraformFile]):
    """A rule set over resolved Terraform files.

    A resource brought in from a local module call is reported only where the call decides
    the value (a hit in the calling file); the module's own files report the rest."""

    def rule(self, id: str, **kwargs: Any) -> Callable[[Check], Check]:  # type: ignore[override]
        register = super().rule(id, **kwargs)

        def wrap(check: Check) -> Check:
            def checked(tf: TerraformFile, ctx: Any) -> Iterator[Hit]:
                for hit in check(tf, ctx):
                    if hit.file != tf.file and (hit.resource or "").startswith("module."):
                        continue
                    yield hit

            register(checked)
            return check

        return wrap


def register_parser(registry: Registry) -> None:
    """Terraform files are parsed with their variables, tfvars, locals and module calls resolved."""
    registry.parser("terraform", parse_resolved, [FileKind.terraform])
