"""Publish one message at a time to the embedded bus forever, printing each acknowledged key.

    python tests/harness/publish_loop.py DATABASE_URL TOPIC

The durability test kills this process with SIGKILL mid-stream: every key printed before that was
acknowledged by `publish`, so it must be in the database afterwards. The topic must exist.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared.bus import EmbeddedBus, Record
from shared.db import create_engine


async def main(url: str, topic: str) -> None:
    engine = create_engine(url)
    bus = EmbeddedBus(engine)
    await bus.start()
    i = 0
    while True:
        key = f"k{i}"
        await bus.publish([Record(topic, key, f"v{i}".encode(), (("seq", str(i).encode()),))])
        # Printed only after publish returned: the line is the acknowledgement.
        sys.stdout.write(key + "\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
