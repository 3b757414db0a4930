"""Script tasks (shell, Python, Node.js), registered under the `lanner.plugins` entry
point `scripts`."""

from streams.plugins.base import Task
from streams.plugins.scripts.node import NodeCommands, NodeScript
from streams.plugins.scripts.python import PythonCommands, PythonScript
from streams.plugins.scripts.shell import ShellCommands, ShellScript

PLUGINS: list[type[Task]] = [
    ShellCommands,
    ShellScript,
    PythonScript,
    PythonCommands,
    NodeScript,
    NodeCommands,
]
