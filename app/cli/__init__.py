"""The `siteflow` command line: the `cli` group, with its commands from the modules beside this one."""
from __future__ import annotations

import click

from . import appointments, exports, keys, reports, serving, simulation, sites, tokens, users, visits


@click.group()
def cli() -> None:
    """SiteFlow: the on-site flow manager for mass vaccination sites."""


for command in (serving.init, serving.serve, serving.demo, tokens.tokens, users.users, sites.sites, reports.report,
                simulation.simulate, simulation.plan, keys.keys, visits.visit, appointments.appointments,
                exports.export):
    cli.add_command(command)
