"""cchc-watch: continuous, evidence-keeping checks of CCHC and digital transformation on the public web."""

__version__ = "0.1.0"
__all__ = ["__version__"]
