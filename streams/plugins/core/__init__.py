"""The core task plugins, registered under the `lanner.plugins` entry point `core`."""

from streams.plugins.base import Task
from streams.plugins.core.flowables import (
    AllowFailure,
    Dag,
    EachParallel,
    EachSequential,
    ForEach,
    If,
    Parallel,
    Pause,
    Sequential,
    Subflow,
    Switch,
)
from streams.plugins.core.simple import Fail, Log, OutputValues, Return, Sleep

PLUGINS: list[type[Task]] = [
    Log,
    Return,
    OutputValues,
    Fail,
    Sleep,
    Sequential,
    Parallel,
    If,
    Switch,
    ForEach,
    EachSequential,
    EachParallel,
    AllowFailure,
    Dag,
    Subflow,
    Pause,
]
