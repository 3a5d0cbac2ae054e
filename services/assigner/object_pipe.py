"""`COPY ... TO STDOUT` streamed into a JetStream Object Store object, in flat memory.

nats-py's `ObjectStore.put` reads its source with `readinto` in a worker thread; asyncpg's COPY
hands its output to a coroutine. An OS pipe joins the two: COPY's chunks are written into it (in
a worker thread, so a full pipe waits without holding the event loop), `put` reads it in object
chunks. The pipe's buffer is all that is ever held between them, so memory stays flat whatever
the export's size. If the upload fails, its end of the pipe is closed and the COPY stops on the
broken pipe; if the COPY fails, the upload sees the end of its input and the caller deletes the
partial object.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from nats.js.api import ObjectInfo
from nats.js.object_store import ObjectStore

from shared.runtime.database import Connection


@dataclass(frozen=True)
class Copied:
    rows: int
    info: ObjectInfo


async def copy_into_object(
    conn: Connection,
    query: str,
    args: list[Any],
    store: ObjectStore,
    name: str,
    written: Callable[[int], None],
) -> Copied:
    """COPY `query` (with `args`) as CSV with a header, every field quoted, into object `name`;
    `written` hears the bytes of each chunk as it goes."""
    read_fd, write_fd = os.pipe()
    # Buffered: each read fills a whole object chunk (or ends the input), not one pipe's worth.
    reader = os.fdopen(read_fd, "rb")
    writer = os.fdopen(write_fd, "wb", buffering=0)
    loop = asyncio.get_running_loop()
    # The writes wait in a thread of their own: one blocked on a full pipe never holds a thread
    # the upload's reads need.
    writing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-copy")

    def write_all(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[writer.write(view) or 0 :]

    async def output(data: bytes) -> None:
        await loop.run_in_executor(writing, write_all, data)
        written(len(data))

    upload = asyncio.create_task(store.put(name, reader))

    def stop_copy_if_failed(task: asyncio.Task[ObjectInfo]) -> None:
        if task.cancelled() or task.exception() is not None:
            reader.close()  # the COPY's next write fails on the broken pipe

    upload.add_done_callback(stop_copy_if_failed)
    try:
        try:
            # COPY takes the query in parentheses, without the named query's semicolon.
            status = await conn.copy_from_query(
                query.strip().rstrip(";"),
                *args,
                output=output,
                format="csv",
                header=True,
                force_quote=True,
            )
        finally:
            writer.close()  # the upload reads the end of its input
        info = await upload
    finally:
        if not upload.done():
            upload.cancel()
        reader.close()
        writing.shutdown(wait=False)
    return Copied(rows=int(str(status).split()[-1]), info=info)
