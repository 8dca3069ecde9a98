"""The README's async example (tests/cli/test_sync_scripts.py keeps the two equal)."""

import asyncio

from viesus import AsyncViesus, EnhanceOptions


async def main() -> None:
    async with AsyncViesus(api_key="local", endpoint="http://127.0.0.1:8765/graphql") as viesus:
        batch = viesus.enhance_many(["photo.jpg"], EnhanceOptions(mode="ENHANCE"), "out3")
        async for item in batch:
            print(item.source, item.status, item.output_path or item.reason)
        print(await viesus.api.get_credits())  # the generated typed client, same connection


asyncio.run(main())
