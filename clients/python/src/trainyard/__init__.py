"""Trainyard's Python SDK: ``Client(url, api_key)`` and its resources."""

from ._sse import Event
from .client import Client, __version__
from .errors import TrainyardError

__all__ = ["Client", "Event", "TrainyardError", "__version__"]
