"""Simulation: the day driver (bots playing staff and arriving people)."""
