"""Capabilities: what a step may do is the agent's allow-list ∩ the caller's role."""

from __future__ import annotations

import itertools

from llmgenie.core.models import Caller, Capability, Role
from llmgenie.core.permissions import ROLE_GRANTS, granted, missing_capabilities

C = Capability


def test_roles_are_cumulative() -> None:
    order = [Role.viewer, Role.operator, Role.maintainer, Role.admin]
    for lower, higher in itertools.pairwise(order):
        assert ROLE_GRANTS[lower] < ROLE_GRANTS[higher]
    assert ROLE_GRANTS[Role.admin] == frozenset(Capability)


def test_granted_is_the_intersection() -> None:
    assert granted(Caller(role=Role.admin), [C.read_target, C.network]) == {
        C.read_target,
        C.network,
    }
    assert granted(Caller(role=Role.viewer), [C.read_target, C.network]) == {C.read_target}


def test_missing_names_what_is_not_granted() -> None:
    viewer = Caller(role=Role.viewer)
    assert missing_capabilities([C.read_target], viewer, [C.read_target]) == []
    assert missing_capabilities([C.network, C.write_patch], viewer, [C.read_target, C.network]) == [
        C.network,
        C.write_patch,
    ]
    # the agent's allow-list binds even an admin
    assert missing_capabilities([C.cluster_write], Caller(role=Role.admin), [C.read_target]) == [
        C.cluster_write
    ]
