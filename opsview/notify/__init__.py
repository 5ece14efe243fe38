"""Notifiers (webhook, Apprise, stdout, JSON lines) and delivery of the store's notification outbox."""
