"""The top floor: the `cchc` command line (`cli.main`). Every verb composes the rooms below from the settings
and calls into them; no other package imports this one (tests and benchmarks aside)."""
