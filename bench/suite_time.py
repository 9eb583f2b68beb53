"""The tests before a change and now, on the tests both have: wall time and ratios, in one run.

    python bench/suite_time.py [--before b374f8b]

The suite grows with every issue, so whole-suite times compare different work. This bench takes the
tests whose ids exist in both trees (same file, same name, same parameters; a test may still do other
work under the same id) and runs them three times, all on this checkout's virtual environment:
  before   in a git worktree of `--before`, serially (plain `pytest`, as b374f8b's `make test` ran);
  serial   here, the same way: the code and the tests changed, the command did not;
  make     here, through `make test` itself (two workers, one torch thread each, then the load tests
           alone), with only those tests selected.
Issue 21 asked that its restructure make nothing slower; b374f8b is the last commit before it. A run
with a failed test is reported, and its ratio marked, since a failing test may stop early.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def collect(tree: Path, env: dict) -> set[str]:
    """The tree's test ids; a collection error (a module that fails to import) stops the bench, as it
    would silently shrink the common set."""
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                         cwd=tree, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"collecting {tree} failed (exit {run.returncode}):\n"
                         f"{run.stdout[-2000:]}{run.stderr[-1000:]}")
    return {line for line in run.stdout.splitlines() if "::" in line}


def timed(command: list[str], tree: Path, env: dict, ids: list[str]) -> tuple[float, bool]:
    """Run `command` in `tree` with only `ids` selected (keep_ids.py) and a cache folder of its own (no run
    reuses what another built): (wall seconds, every one of `ids` ran and passed)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(ids) + "\n")
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        run = subprocess.run(command, cwd=tree, env={**env, "KEEP_IDS": f.name, "CLIPDEMO_CACHE": cache},
                             capture_output=True, text=True)
        seconds = time.perf_counter() - start
    os.unlink(f.name)
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", run.stdout))  # make test prints two summaries
    print(f"  {seconds:.0f} s, exit {run.returncode}, {passed} of {len(ids)} passed", flush=True)
    if run.returncode != 0:
        print(run.stdout[-2000:] + run.stderr[-1000:], flush=True)
    return seconds, run.returncode == 0 and passed == len(ids)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", default="b374f8b", help="the commit to compare with (default: before issue 21)")
    args = p.parse_args(argv)

    base = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    base["CI"] = os.environ.get("CI", "true")
    path = [p for p in [os.environ.get("PYTHONPATH")] if p]
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(old), args.before], cwd=REPO, check=True)
        try:
            # the old tree's own clipdemo first on the path, and keep_ids.py importable by both
            old_env = {**base, "PYTHONPATH": os.pathsep.join([str(old), str(HERE), *path])}
            new_env = {**base, "PYTHONPATH": os.pathsep.join([str(HERE), *path])}
            common = sorted(collect(old, old_env) & collect(REPO, new_env))
            if not common:
                print("no test id is in both trees", file=sys.stderr)
                return 1
            print(f"{len(common)} tests in both trees", flush=True)
            serial = [sys.executable, "-m", "pytest", "-p", "keep_ids", "-p", "no:cacheprovider", "-q"]
            print(f"before ({args.before}): pytest, serially", flush=True)
            before, ok_before = timed(serial, old, old_env, common)
            print("serial: this tree, the same command", flush=True)
            now, ok_now = timed(serial, REPO, new_env, common)
            print("make: this tree's `make test` (two workers, then the load tests alone)", flush=True)
            made, ok_made = timed(["make", "test", f"PY={sys.executable}", "ARGS=-p keep_ids -p no:cacheprovider -q"],
                                  REPO, new_env, common)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=REPO)
            subprocess.run(["git", "worktree", "prune"], cwd=REPO)
    flag = "" if ok_before and ok_now and ok_made else "  (a run had failures: see above)"
    print(f"\nthe same {len(common)} tests: before {before:.0f} s, serial {now:.0f} s, make {made:.0f} s; "
          f"serial/before = {now / before:.2f}, make/before = {made / before:.2f}{flag}")
    return 0 if flag == "" else 1


if __name__ == "__main__":
    raise SystemExit(main())
