"""The executor and worker of `lanner flow test`, as a process of their own:
`python -m api.cli.streams_process`, configured by LANNER_* variables like any role.

Not through `lanner server ...`: that goes through the whole command line (typer and every
command module) before it starts, which a flow test would wait for on every run.
"""

from __future__ import annotations

import os


def main() -> None:
    from api.cli.lifeline import ORPHAN_GRACE_S, install_stop_deadline, watch_parent
    from api.logs import configure_from_env
    from schemas.settings import LannerSettings
    from streams.app.run import run_roles

    configure_from_env(os.environ)
    settings = LannerSettings.from_env()
    # Like every role (api/cli/server.py _role_settings): a stop is honoured within the
    # deadline, and a `flow test` killed outright leaves no executor behind.
    install_stop_deadline(settings.stop_deadline_s)
    watch_parent(min(ORPHAN_GRACE_S, settings.stop_deadline_s))
    run_roles(settings, {"executor", "worker"}, app_name="streams")


if __name__ == "__main__":
    main()
