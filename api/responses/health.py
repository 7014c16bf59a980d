"""What the health checks answer."""

from pydantic import BaseModel, ConfigDict


class Health(BaseModel):
    """Liveness: the process answers."""

    status: str
    model_config = ConfigDict(extra="allow", populate_by_name=True, json_schema_extra={"examples": [{"status": "ok"}]})


class Readiness(BaseModel):
    """Readiness: the database answers."""

    status: str
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, json_schema_extra={"examples": [{"status": "ready"}]}
    )
