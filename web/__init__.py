"""The web app for analysts and inspectors: overview, unit pages, evidence viewer, read-only SQL, JSON API."""
