"""Subprocess that saves one version, for the concurrency and crash tests.

    python _registry_writer.py ROOT NAME SEED [--go FILE] [--pause S] [--log FILE]
                               [--hang-after K --ready FILE] [--endpoint URL]

--go waits until FILE exists (so two writers start together), --pause sleeps S
seconds after each file, --log appends "<time> <pid> <file>" per written file,
--hang-after K touches --ready after K files and then sleeps until killed.
Prints the new version id.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _registry_models import make_artifacts  # noqa: E402

from sacfolio.registry import Registry  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("name")
    p.add_argument("seed", type=int)
    p.add_argument("--go")
    p.add_argument("--pause", type=float, default=0.0)
    p.add_argument("--log")
    p.add_argument("--hang-after", type=int)
    p.add_argument("--ready")
    p.add_argument("--endpoint")
    args = p.parse_args()

    options = {"client_kwargs": {"endpoint_url": args.endpoint}, "skip_instance_cache": True} if args.endpoint else None
    registry = Registry(args.root, storage_options=options, lock_timeout=120)
    artifacts = make_artifacts(args.seed)
    written = 0

    def on_file_written(fname: str) -> None:
        nonlocal written
        written += 1
        if args.log:
            with open(args.log, "a") as fh:
                fh.write(f"{time.time():.6f} {os.getpid()} {fname}\n")
        if args.hang_after is not None and written == args.hang_after:
            Path(args.ready).write_text(str(os.getpid()))
            time.sleep(600)  # killed here by the test
        time.sleep(args.pause)

    if args.go:
        while not Path(args.go).exists():
            time.sleep(0.01)
    print(registry.save(args.name, artifacts, on_file_written=on_file_written), flush=True)


if __name__ == "__main__":
    main()
