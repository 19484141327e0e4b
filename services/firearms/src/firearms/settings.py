"""Firearms settings (environment, prefix ``ALLIANCE_``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from alliance.runtime.settings import Settings


class FirearmsSettings(Settings):
    trace_reply_hours: float = Field(default=24.0, gt=0, description="tracing-center reply deadline")

    @property
    def trace_reply_period(self) -> timedelta:
        return timedelta(hours=self.trace_reply_hours)
