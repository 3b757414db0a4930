"""The core task plugins, registered under the `lanner.plugins` entry point `core`."""

from streams.plugins.base import Task
from streams.plugins.core.debug import Echo
from streams.plugins.core.execution import Count, Exit, Labels, PurgeExecutions, Resume
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
from streams.plugins.core.for_each_item import (
    ForEachItem,
    ForEachItemExecutable,
    ForEachItemMergeOutputs,
    ForEachItemSplit,
)
from streams.plugins.core.items import DeduplicateItems, FilterItems
from streams.plugins.core.logs import Fetch, PurgeLogs
from streams.plugins.core.simple import Fail, Log, OutputValues, Return, Sleep
from streams.plugins.core.state import StateDelete, StateGet, StateSet
from streams.plugins.core.storage import (
    Concat,
    Delete,
    LocalFiles,
    PurgeCurrentExecutionFiles,
    Reverse,
    Size,
    Split,
)
from streams.plugins.core.templating import TemplatedTask
from streams.plugins.core.wait_for import WaitFor
from streams.plugins.core.working_directory import WorkingDirectory

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
    ForEachItem,
    ForEachItemSplit,
    ForEachItemExecutable,
    ForEachItemMergeOutputs,
    Echo,
    Concat,
    Split,
    Size,
    Delete,
    Reverse,
    FilterItems,
    DeduplicateItems,
    LocalFiles,
    PurgeCurrentExecutionFiles,
    StateGet,
    StateSet,
    StateDelete,
    TemplatedTask,
    Labels,
    Exit,
    Resume,
    Count,
    PurgeExecutions,
    Fetch,
    PurgeLogs,
    WaitFor,
    WorkingDirectory,
]
