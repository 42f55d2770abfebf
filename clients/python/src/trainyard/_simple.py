"""The small read-mostly resources: trainers and credits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, List, Optional

if TYPE_CHECKING:
    from .client import JSON, Client


class Trainers:
    def __init__(self, client: "Client") -> None:
        self._c = client

    def list(self) -> List["JSON"]:
        """Every trainer with its hyperparameter schema, pricing and availability."""
        data: List["JSON"] = self._c.call("trainers.list")["data"]
        return data

    def get(self, trainer_id: str) -> "JSON":
        return self._c.call("trainers.get", {"id": trainer_id})


class Credits:
    def __init__(self, client: "Client") -> None:
        self._c = client

    def balance(self) -> "JSON":
        """``balance`` (spendable), ``held`` by unfinished jobs, and totals."""
        return self._c.call("credits.balance")

    def transactions(
        self,
        *,
        type: Optional[str] = None,
        purpose: Optional[str] = None,
        job_id: Optional[str] = None,
        page_size: int = 50,
    ) -> Iterator["JSON"]:
        """The ledger, newest first, fetched a page at a time."""
        q = {"type": type, "purpose": purpose, "job_id": job_id, "limit": page_size}
        return self._c.paginate("credits.transactions", query=q)
