"""Shared test and benchmark helpers (case tables, oracles)."""
