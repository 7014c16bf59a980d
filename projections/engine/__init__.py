"""The projection engine: runner, batching, checkpoints, rebuilds."""
