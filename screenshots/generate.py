"""Writes the README's screenshots: real exports of the running console.

    uv run python screenshots/generate.py            # every scene
    uv run python screenshots/generate.py main log   # some of them

Each scene (see `scenes.py`) is built in a temporary directory with real git commits and real
runs, the console is opened on it headless with its clock frozen, brought to the scene's
state, and saved here as `<scene>.svg`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from scenes import SCENES, Scene, make_app, stop_engine

HERE = Path(__file__).resolve().parent


async def shoot(scene: Scene, out: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="pipedeck-scene-") as tmp:
        # The scenes trust their pipelines; that belongs with them, not in the user's home.
        os.environ["PIPEDECK_TRUST_FILE"] = str(Path(tmp) / "trust.json")
        built = await scene.build(Path(tmp))
        try:
            app = make_app(built.root)
            try:
                async with app.run_test(size=scene.size) as pilot:
                    await scene.prepare(pilot)
                    await pilot.wait_for_scheduled_animations()
                    await pilot.pause()
                    saved = app.save_screenshot(filename=f"{scene.name}.svg", path=str(out))
                    await stop_engine(app)
            finally:
                await stop_engine(app)
                app.client.close()
        finally:
            built.stop()
    return Path(saved)


async def main(names: list[str], out: Path) -> None:
    for name in names:
        print(f"{name}: {await shoot(SCENES[name], out)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="*", metavar="SCENE", help=", ".join(SCENES))
    parser.add_argument("--out", type=Path, default=HERE, help="where the SVG files go")
    args = parser.parse_args()
    unknown = sorted(set(args.scenes) - set(SCENES))
    if unknown:
        parser.error(f"no scene {', '.join(unknown)} (scenes: {', '.join(SCENES)})")
    asyncio.run(main(args.scenes or list(SCENES), args.out))
