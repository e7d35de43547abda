"""A command with actions (`fedcost hospital init|start|...`): one shape for every such group."""
from __future__ import annotations

import argparse


def command_group(subparsers, name: str, help: str, description: str, epilog: str | None = None):
    """Add `fedcost NAME ACTION ...`; returns the subparsers the actions are added to (one is required)."""
    p = subparsers.add_parser(name, help=help, description=description, epilog=epilog,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest=f"{name}_command", metavar="ACTION")
    sub.required = True
    return sub
