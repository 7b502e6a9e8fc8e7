"""Grouping items by category, in the order the categories first appear.

Departments carry a category (窗口类, 执法类, …) that ranks, tables and forms group by; every
such grouping is this one.
"""

from collections.abc import Callable, Iterable
from typing import TypeVar

Item = TypeVar("Item")


def by_category(items: Iterable[Item], category: Callable[[Item], str]) -> dict[str, list[Item]]:
    """``items`` per category, categories in the order they first appear, items in order."""
    grouped: dict[str, list[Item]] = {}
    for item in items:
        grouped.setdefault(category(item), []).append(item)
    return grouped
