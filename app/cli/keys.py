"""`siteflow keys`: new data and lookup keys, data keys rewrapped, ID lookups rehashed."""
from __future__ import annotations

import click

from app.flow import maintenance
from app.store import sealing

from .common import _app, _services


@click.group()
def keys() -> None:
    """Keys that seal personal data at rest (docs/SECURITY.md)."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new master data key and lookup key as environment lines (nothing is stored)."""
    click.echo(f"SITEFLOW_DATA_KEYS={sealing.generate_master_key()}")
    click.echo(f"SITEFLOW_LOOKUP_KEY={sealing.generate_lookup_key()}")


@keys.command("rotate")
def keys_rotate() -> None:
    """Rewrap every data key under the first of SITEFLOW_DATA_KEYS (run after putting a new key first)."""
    services = _services(_app())
    try:
        count = maintenance.rewrap_data_keys(services)
    except sealing.SealingKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{count} data keys rewrapped under the primary master key; "
               "the older master keys can now be removed from SITEFLOW_DATA_KEYS")


@keys.command("rehash")
def keys_rehash() -> None:
    """Recompute every ID lookup with the current SITEFLOW_LOOKUP_KEY (after changing it)."""
    services = _services(_app())
    try:
        count, bookings = maintenance.rehash_documents(services)
    except sealing.SealingKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{count} visits and {bookings} bookings rehashed with the current lookup key")
