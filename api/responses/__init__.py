"""Response models of the read routes, one module per router, each with an example, so that
`/docs` shows every shape. The routes answer `Json(...)` themselves: these models document, they
never filter. Every model keeps unknown keys (`extra="allow"`); money is a decimal string with two
places ("1100.00"), rates and shares decimal strings as they are; dates are YYYY-MM-DD."""
