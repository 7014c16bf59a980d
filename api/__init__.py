"""Entry points: the FastAPI application and the `salesledger` command line."""
