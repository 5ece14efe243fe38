"""Errors every store backend raises, and how a command recognises a store that broke under it."""

from __future__ import annotations

_UNUSABLE: list[type[BaseException]] = []


class StoreError(Exception):
    """The store cannot be opened or used; the message is meant for the user."""


def register_unusable(*errors: type[BaseException]) -> None:
    """A backend's driver errors that mean the store itself failed (a damaged page, a full disk, a
    read-only file, a server gone), not a bug in a query. Each backend registers its own when loaded,
    so recognising them never imports a driver the user does not use."""
    _UNUSABLE.extend(e for e in errors if e not in _UNUSABLE)


def as_store_error(exc: BaseException, where: str = "store") -> StoreError | None:
    """`exc` as a StoreError when it says the store failed (`where`: the store's path or URL), else None.

    Opening and writing raise StoreError themselves. Reads let the driver's error through (a corrupt
    page is met row by row, and translating every row would cost the fleet reads); a command that
    reads turns it into one line with this instead of a traceback.
    """
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, tuple(_UNUSABLE)):
        text = " ".join(str(exc).split()) or type(exc).__name__
        return StoreError(f"{where.removeprefix('sqlite://')}: store unusable ({text})")
    return None
