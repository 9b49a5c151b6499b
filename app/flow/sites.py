"""Sites: loading their configuration files, and reading which sites there are and who sees them."""
from __future__ import annotations

import tomllib
from pathlib import Path

from app.domain.permissions import Principal
from app.domain.site import Site, SiteConfigError, parse_site
from app.store.event_store import SiteRow

from . import stock
from .services import Services


def read_site_file(path: Path) -> Site:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise SiteConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SiteConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_site(data, source=str(path))


def load_site_file(services: Services, path: Path) -> tuple[Site, str]:
    """Validate a site file and upsert it, with the deliveries of the lots it lists with `vials`
    (each recorded once). Returns the site and created/updated/unchanged."""
    site = read_site_file(path)
    status = services.store.upsert_site(site, at=services.clock.now())
    stock.receive_from_site_file(services, site)
    return site, status


def load_site_folder(services: Services, folder: Path) -> list[tuple[Site, str]]:
    return [load_site_file(services, path) for path in sorted(Path(folder).glob("*.toml"))]


def site_config(services: Services, site_id: str) -> Site:
    """A site's configuration (NotFound for an unknown site): for pages, rooms and languages."""
    return services.store.site(site_id).site


def site_ids(services: Services) -> list[str]:
    return services.store.site_ids()


def all_sites(services: Services) -> list[SiteRow]:
    """Every site with its revision and event count, in id order (the command line, the city view)."""
    return services.store.sites()


def visible_sites(services: Services, principal: Principal) -> list[SiteRow]:
    """The sites this caller may see (their scope), in id order, read in one go: the one place
    that filters sites by who is asking."""
    return [row for row in services.store.sites() if principal.covers(row.site.id)]
