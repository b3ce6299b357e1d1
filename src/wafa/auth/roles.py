"""Staff roles, light to import (the command line offers them without loading the database)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    owner = "owner"
    manager = "manager"
    cashier = "cashier"
