"""The read side: the projection engine, the read models and the SQL behind them."""
