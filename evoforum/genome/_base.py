"""The base of every genome model: frozen, closed pydantic data."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Immutable, closed data: unknown fields are rejected, fields cannot be reassigned."""

    model_config = ConfigDict(frozen=True, extra="forbid")
