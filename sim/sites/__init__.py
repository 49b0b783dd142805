"""One module per kind of simulated site."""
