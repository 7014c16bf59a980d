"""What the access key routes answer."""

import datetime as dt

from pydantic import BaseModel, ConfigDict

from api.responses import example


class KeyListItem(BaseModel):
    key_id: str
    role: str
    rep_id: str | None
    label: str
    minted_at: dt.datetime
    minted_by: str | None
    revoked_at: dt.datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    revoked: bool
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "key_id": "5ca884cd-5313-5794-b307-fd9091dd56f1",
                    "role": "auditor",
                    "rep_id": None,
                    "label": "外审",
                    "minted_at": "2026-12-07T09:21:21.266574+00:00",
                    "minted_by": "admin:token",
                    "revoked_at": None,
                    "revoked_by": None,
                    "revoke_reason": None,
                    "revoked": False,
                }
            ]
        },
    )


class KeyList(BaseModel):
    """Every API key without its secret."""

    items: list[KeyListItem]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "items": [example(KeyListItem)],
                }
            ]
        },
    )


class Principal(BaseModel):
    """The calling key: role, rep and the actor its commands are recorded under."""

    role: str
    rep_id: str | None
    key_id: str | None
    label: str
    actor: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "role": "rep",
                    "rep_id": "59368757-5676-5387-a432-c9907a227184",
                    "key_id": "75e68bab-ffce-5953-b481-825d48f33906",
                    "label": "test rep",
                    "actor": "rep:59368757-5676-5387-a432-c9907a227184",
                }
            ]
        },
    )
