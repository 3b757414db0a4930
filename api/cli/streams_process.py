"""The executor and worker of `lanner flow test`, as a process of their own:
`python -m api.cli.streams_process`, configured by LANNER_* variables like any role.

Not through `lanner server ...`: that goes through the whole command line (typer and every
command module) before it starts, which a flow test would wait for on every run.
"""

from __future__ import annotations

import os


def main() -> None:
    from api.logs import configure_from_env
    from schemas.settings import LannerSettings
    from streams.app.run import run_roles

    configure_from_env(os.environ)
    run_roles(LannerSettings.from_env(), {"executor", "worker"}, app_name="streams")


if __name__ == "__main__":
    main()
