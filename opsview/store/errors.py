"""Errors every store backend raises."""


class StoreError(Exception):
    """The store cannot be opened or used; the message is meant for the user."""
