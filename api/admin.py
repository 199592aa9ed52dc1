"""The support staff's routes: an account's audit trail, unlocking, and resetting two-step."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends


def build_admin(auth: Any) -> APIRouter:
    admin = APIRouter(prefix="/v1", dependencies=[Depends(auth)])
    return admin
