"""The ``dashboard`` command: the Streamlit app started on the configured database, as a child
process that stops with the command."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from aggregator.cli.context import Context
from aggregator.cli.supervise import module_command, run_owned
from aggregator.errors import ConfigError
from aggregator.store.engine import absolute, describe

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


@click.command()
@click.option("--port", default=8501, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_obj
def dashboard(obj: Context, port: int, host: str) -> None:
    """Start the Streamlit dashboard on the configured database."""
    app = REPO_ROOT / "dashboard" / "streamlit_app.py"
    if not app.exists():
        raise ConfigError(f"dashboard not found at {app}")
    env = {
        **os.environ,
        "AGGREGATOR_DB": absolute(obj.settings.db),
        "AGGREGATOR_MODEL": obj.settings.model,
    }
    click.echo(f"dashboard on http://{host}:{port}  (database {describe(obj.settings.db)})")
    from aggregator.config import bundled
    from aggregator.demo.links import serve_demo_pages

    demo_pages = serve_demo_pages(obj.settings.db, bundled(Path("data/demo")))
    if demo_pages is not None:  # serves until this process ends, so the demo's links open
        click.echo(f"demo article pages on {demo_pages.base_url}")
    command = module_command(
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    )
    # Streamlit runs as a child that stops when this command is stopped (see supervise)
    sys.exit(run_owned(command, env=env))
