"""Response models of the read routes, one module per router, each with an example, so that
`/docs` shows every shape. The routes answer `Json(...)` themselves: these models document, they
never filter. Every model keeps unknown keys (`extra="allow"`); money is a decimal string with two
places ("1100.00"), rates and shares decimal strings as they are; dates are YYYY-MM-DD."""

from typing import Any

from pydantic import BaseModel


def example(model: type[BaseModel]) -> dict[str, Any]:
    """The first example of `model`: what a parent's example embeds instead of a copy."""
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict), model
    return dict(extra["examples"][0])
