"""A custom JSON codec that carries datetimes, written as python-socketio's users write one: the
``json=`` option's tests use it on the core and end to end."""

from __future__ import annotations

import datetime
import json
from typing import Any


class DateEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime):
            return {"$date": o.isoformat()}
        return super().default(o)


def date_hook(value: dict[str, Any]) -> Any:
    if set(value) == {"$date"}:
        return datetime.datetime.fromisoformat(value["$date"])
    return value


class DateJSON:
    """A module-like codec (``dumps``/``loads``), as python-socketio's documentation shows."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, cls=DateEncoder, **kwargs)

    @staticmethod
    def loads(text: str) -> Any:
        return json.loads(text, object_hook=date_hook)
