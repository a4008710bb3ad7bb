"""Watching a run: `factory stats` tables (stats.py), PNG plots (plots.py), problem coverage (coverage.py), W&B
logging (wandb.py). Everything here only reads a run folder: the per-shard `_stats/*.json` the executors write and,
for plots, a few columns of the stage shards. Nothing here can change or fail a run's outputs."""
