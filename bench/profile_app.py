"""Profile one benchmark app in process: ``python bench/profile_app.py [APP NAME] [-n N]``.

Prints cProfile's top functions by own time (``--sort cumulative`` for the call tree
view), or pyinstrument's call tree with ``--tree``, so a hot spot can be traced to the
layer that pays for it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apps import apps, prepare
from bench.inprocess import _drive


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("app", nargs="?", default="hardening: full stack")
    parser.add_argument("-n", type=int, default=20000)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--tree", action="store_true", help="pyinstrument's call tree instead of cProfile")
    args = parser.parse_args()
    app = apps()[args.app]()
    prepare(args.app)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(_drive(app, 500))
    if args.tree:
        from pyinstrument import Profiler

        tree = Profiler(interval=0.0001, async_mode="disabled")
        tree.start()
        loop.run_until_complete(_drive(app, args.n))
        tree.stop()
        loop.close()
        print(tree.output_text(unicode=True, show_all=False))
        return 0
    profiler = cProfile.Profile()
    profiler.enable()
    loop.run_until_complete(_drive(app, args.n))
    profiler.disable()
    loop.close()
    pstats.Stats(profiler).strip_dirs().sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
