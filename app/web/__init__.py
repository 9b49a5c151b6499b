"""Thin HTTP layer: parse, call a flow command, render."""
