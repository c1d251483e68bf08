"""The health check's one question, asked of the ports: is the database reachable?"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.ports import Database


@dataclass(frozen=True)
class Health:
    db: Database

    def database_reachable(self) -> bool:
        return self.db.ping()
