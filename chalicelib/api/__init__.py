"""Entrypoints: JSON in, a service call, JSON out. No business rules live here."""
