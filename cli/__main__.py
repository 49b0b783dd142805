"""`python -m cli …`: the same as the `cchc` console script (the daemon starts its jobs this way)."""

from cli.startup import run

run()
