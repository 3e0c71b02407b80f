"""``xray-bench`` / ``python -m xray_utils.bench``: data-path figures for this machine.

Prints cold and warm load time and peak memory (RSS) for decoding a dataset
(default: ``$XRAY_DATA_DIR``) at a given size and channel count. Each figure is
the median of ``--repeat`` runs, each in a fresh process (so peak RSS and the
cold cache are honest). No timing is asserted anywhere: these are figures to
read, not tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, resource, sys, time
from xray_utils import data
root, size, channels, cache = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
index = data.find_dataset(root)
start = time.perf_counter()
images = data.load_images(index, size, channels, cache_dir=cache, progress=False)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "images": len(images), "from_cache": images.from_cache,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "array_mb": images.images.nbytes / 2**20}))
"""


def _measure(root: str, size: int, channels: int, cache: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, root, str(size), str(channels), cache],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_figures(root: str, size: int, channels: int, repeat: int) -> dict:
    """Median cold and warm load (seconds) and peak RSS (MB) over ``repeat`` fresh processes."""
    cold, warm = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(_measure(root, size, channels, cache))
            warm.append(_measure(root, size, channels, cache))
    return {
        "images": cold[0]["images"], "size": size, "channels": channels,
        "cold_s": statistics.median(r["seconds"] for r in cold),
        "warm_s": statistics.median(r["seconds"] for r in warm),
        "cold_peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in cold),
        "warm_peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in warm),
        "array_mb": cold[0]["array_mb"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xray-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("XRAY_DATA_DIR"), help="dataset folder")
    parser.add_argument("--size", type=int, nargs="+", default=[192])
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fast", action="store_true", help="one repetition")
    args = parser.parse_args(argv)
    if not args.data:
        parser.error("no dataset: pass --data or set XRAY_DATA_DIR")
    repeat = 1 if args.fast else args.repeat
    print(f"Data path on {os.cpu_count()} cores, median of {repeat} fresh process(es) each")
    print(f"{'images':>7} {'size':>5} {'ch':>3} {'cold s':>8} {'warm s':>8} {'cold RSS MB':>12} "
          f"{'warm RSS MB':>12} {'array MB':>9}")
    for size in args.size:
        for channels in args.channels:
            r = load_figures(args.data, size, channels, repeat)
            print(f"{r['images']:>7} {size:>5} {channels:>3} {r['cold_s']:>8.2f} {r['warm_s']:>8.2f} "
                  f"{r['cold_peak_rss_mb']:>12.0f} {r['warm_peak_rss_mb']:>12.0f} {r['array_mb']:>9.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
