"""`lanner namespace files list|get|upload|delete`: a namespace's files, through the API.

The same files as a flow's `namespaceFiles`, `read('path')` and the namespace.*Files
tasks: a file uploaded here is what the next execution sees.
"""

from __future__ import annotations

import datetime as dt
import sys
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.client import LannerClient
from api.cli.output import OutputFormat, OutputOption, call, emit, errors, print_table, table

app = typer.Typer(no_args_is_help=True)
Ns = Annotated[
    str,
    typer.Argument(
        metavar="NAMESPACE", show_default=False, help="The namespace, e.g. company.team."
    ),
]
FilePath = Annotated[
    str,
    typer.Argument(metavar="PATH", show_default=False, help="The file's path, e.g. /main.py."),
]
# Files a directory upload leaves out: editors' and tools' litter.
_SKIPPED = {".git", "__pycache__", ".venv", "node_modules", ".DS_Store"}


def _time(millis: int) -> str:
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@app.command("list")
def list_command(
    namespace: Ns,
    path: Annotated[str, typer.Option("--path", help="Only the files below this folder.")] = "/",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Every file of the namespace (below --path), with size, version and update time."""
    files = call(lambda c: c.list_namespace_files(namespace, path))
    if emit(files, output):
        return
    rows = table("PATH", "SIZE", "VERSION", "UPDATED (UTC)", keep=("PATH", "UPDATED (UTC)"))
    base = path.rstrip("/") + "/" if path.strip("/") else "/"
    for entry in files:
        rows.add_row(
            base + str(entry["fileName"]),
            str(entry["size"]),
            str(entry.get("version", "")),
            _time(int(entry["lastModifiedTime"])),
        )
    print_table(rows, wide=False)


@app.command("get")
def get_command(
    namespace: Ns,
    path: FilePath,
    revision: Annotated[
        int | None, typer.Option(help="An earlier version (1 = the first upload).")
    ] = None,
    to: Annotated[
        Path | None, typer.Option("--to", help="Write the content to this file, not stdout.")
    ] = None,
) -> None:
    """A file's content (exit 1 if there is no such file)."""
    content = call(lambda c: c.get_namespace_file(namespace, path, revision))
    if to is not None:
        to.write_bytes(content)
        errors.print(f"{path} of {namespace} written to {to}", soft_wrap=True)
    else:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()


def _local_files(source: Path) -> list[tuple[Path, str]]:
    """(file, its path under the target) for a file or every file below a directory."""
    if source.is_file():
        return [(source, source.name)]
    if not source.is_dir():
        raise typer.BadParameter(f"{source} is neither a file nor a directory")
    return [
        (p, p.relative_to(source).as_posix())
        for p in sorted(source.rglob("*"))
        if p.is_file() and not _SKIPPED & set(p.relative_to(source).parts)
    ]


def _upload(client: LannerClient, namespace: str, path: str, source: Path) -> list[dict[str, Any]]:
    return client.upload_namespace_file(namespace, path, source)


@app.command("upload")
def upload_command(
    namespace: Ns,
    source: Annotated[
        Path, typer.Argument(show_default=False, help="A file, or a directory to upload whole.")
    ],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="The path in the namespace: a file's (default: /<its name>), or the folder "
            "a directory's files go under (default: /).",
        ),
    ] = None,
) -> None:
    """Upload a file or a directory's files (each a new version of its path)."""
    files = _local_files(source)
    single = source.is_file()
    for local, relative in files:
        # A single file goes to --to itself; a directory's files go under it.
        target = to if single and to is not None else f"{(to or '/').rstrip('/')}/{relative}"
        stored = call(partial(_upload, namespace=namespace, path=target, source=local))
        for entry in stored:
            errors.print(
                f"{entry['path']} uploaded to {namespace} (version {entry['version']})",
                soft_wrap=True,
            )


@app.command("delete")
def delete_command(namespace: Ns, path: FilePath) -> None:
    """Delete a file, or a folder with every file in it (exit 1 if there is none)."""
    call(lambda c: c.delete_namespace_file(namespace, path))
    errors.print(f"{path} deleted from {namespace}", soft_wrap=True)
