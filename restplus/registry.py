"""One registry type for everything a user can plug in by name.

Factor kinds, layout presets, degradation steps, answer extractors and model adapters are all a
:class:`Registry`: a name -> item mapping that keeps registration order (degradations apply in
it), refuses to rebind a name unless ``replace=True`` (one verb everywhere), and answers an
unknown name with the same did-you-mean message. Registering the same item twice is a no-op, so
a module that registers on import can be imported again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

from .errors import RestplusError, unknown_name

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """Named items of one sort, in registration order.

    what     the noun used in messages, e.g. ``"layout"``
    error    the error raised for a clash or an invalid item (a RestplusError subclass of the part)
    check    optional ``check(name, item)`` that raises ``error`` for an item of the wrong shape
    """

    def __init__(self, what: str, error: type[RestplusError], *,
                 check: Callable[[str, T], None] | None = None) -> None:
        self.what, self.error, self._check = what, error, check
        self._items: dict[str, T] = {}

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except (KeyError, TypeError):  # TypeError: an unhashable name from a spec file
            raise unknown_name(self.what, name, self._items) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {list(self._items)})"

    def register(self, name: str, item: T, *, replace: bool = False, before: str | None = None) -> T:
        """Bind ``name`` to ``item`` and return the item.

        A name already bound to a different item needs ``replace=True``; ``before`` inserts the
        new name ahead of an existing one (order matters where items apply in sequence).
        """
        if not isinstance(name, str) or not name.strip():
            raise self.error(f"a {self.what} name must be a non-empty string, got {name!r}.")
        if self._check is not None:
            self._check(name, item)
        if name in self._items:
            if self._items[name] == item:
                return item
            if not replace:
                raise self.error(f"{self.what} {name!r} is already registered (to {self._items[name]!r}); "
                                 "pick another name or pass replace=True to override it.")
            if before is None:  # replacing keeps the name's place in the order
                self._items[name] = item
                return item
            del self._items[name]
        if before is None:
            self._items[name] = item
            return item
        if before not in self._items:
            raise unknown_name(self.what, before, self._items)
        items = list(self._items.items())
        at = [k for k, _ in items].index(before)
        self._items = dict(items[:at] + [(name, item)] + items[at:])
        return item

    def unregister(self, name: str) -> T:
        """Remove and return a registered item (unknown names get a did-you-mean)."""
        item = self[name]
        del self._items[name]
        return item

    def names(self) -> list[str]:
        """Registered names in registration order."""
        return list(self._items)

    def with_extra(self, extra: Mapping[str, T] | None) -> dict[str, T]:
        """The registered items plus ``extra`` (e.g. presets declared inside one spec file)."""
        return {**self._items, **(extra or {})}
