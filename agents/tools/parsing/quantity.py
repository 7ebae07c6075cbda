"""Kubernetes resource quantities ("500m", "1.5", "512Mi", "1G", "1e9") as plain numbers."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["cpu_cores", "java_size_bytes", "memory_bytes", "quantity"]

_SUFFIX: dict[str, float] = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]{0,2})$")


def quantity(value: Any) -> float | None:
    """A quantity as a float in base units, or None when it is absent or not a quantity."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    m = _QUANTITY.match(str(value).strip())
    if not m or m.group(2) not in _SUFFIX:
        return None
    return float(m.group(1)) * _SUFFIX[m.group(2)]


def cpu_cores(value: Any) -> float | None:
    return quantity(value)


def memory_bytes(value: Any) -> float | None:
    return quantity(value)


_JAVA_SIZE = re.compile(r"^(\d+)([kKmMgGtT]?)$")
_JAVA_UNIT = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def java_size_bytes(value: str) -> int | None:
    """A JVM size flag value (`512m`, `2G`, `1048576`) in bytes; JVM units are binary."""
    m = _JAVA_SIZE.match(value.strip())
    if not m:
        return None
    return int(m.group(1)) * _JAVA_UNIT[m.group(2).lower()]
