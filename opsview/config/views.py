"""`[tui]` and `[web]`: how the viewers behave."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from opsview.config.base import Model


class TuiConfig(Model):
    theme: str = "textual-dark"
    """Any Textual theme name."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Binding id -> keys, e.g. filter = "ctrl+f" (see `?` in the TUI for ids)."""


class WebAuthConfig(Model):
    type: Literal["basic", "bearer"]
    """basic (username + password) or bearer (a token in the Authorization header)."""
    username: str | None = None
    """User name for basic auth."""
    password_env: str | None = None
    """Environment variable holding the basic-auth password (never put it in the file)."""
    token_env: str | None = None
    """Environment variable holding the bearer token."""

    @model_validator(mode="after")
    def _needs_its_secret(self) -> WebAuthConfig:
        if self.type == "basic" and not (self.username and self.password_env):
            missing = "username" if not self.username else "password_env"
            raise ValueError(f"{missing} is required for basic auth")
        if self.type == "bearer" and not self.token_env:
            raise ValueError("token_env is required for bearer auth")
        return self


class WebConfig(Model):
    host: str = "127.0.0.1"
    """Address to bind; anything but loopback requires [web.auth] or --insecure."""
    port: int = Field(default=8050, ge=1, le=65535)
    """Port to listen on."""
    threads: int = Field(default=8, ge=1, le=256)
    """Worker threads of the WSGI server."""
    auth: WebAuthConfig | None = None
    """Authentication; required when binding beyond loopback."""
    public_url: str | None = None
    """The dashboard's address as people reach it (https://opsview.example.com/, behind any proxy): alerts link
    each function's page there (Alertmanager's generatorURL and externalURL, the webhook's `url`)."""

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f'public_url must start with http:// or https://, got "{value}"')
        return value.rstrip("/") + "/" if value else value
