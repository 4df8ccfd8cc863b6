"""Check or regenerate the frozen outputs under tests/reference/snapshots/.

    PYTHONPATH=.:tests python scripts/update_snapshots.py            # check: exit 1 and a diff if any differs
    PYTHONPATH=.:tests python scripts/update_snapshots.py --update   # rewrite them and snapshots.meta.json

Every file in that folder is listed in ``tests/snapshot_cases.SNAPSHOTS`` with the function
that renders it; ``snapshots.meta.json`` records how each is made and its SHA-256. Update
only when a formatting change is intended, and review the diff before committing.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from snapshot_cases import META, SNAP, SNAPSHOTS, metadata  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--update", action="store_true", help="rewrite the snapshot files and their metadata")
    args = ap.parse_args(argv)
    stray = sorted(p.name for p in SNAP.iterdir() if p.name not in SNAPSHOTS and p != META)
    if stray:
        print(f"files in {SNAP} that no entry of SNAPSHOTS renders: {', '.join(stray)}", file=sys.stderr)
        return 1
    changed = 0
    for name, render in SNAPSHOTS.items():
        new = render()
        path = SNAP / name
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        if new == old:
            print(f"unchanged  {name}")
            continue
        changed += 1
        if args.update:
            path.write_text(new, encoding="utf-8")
            print(f"updated    {name}")
        else:
            print(f"DIFFERS    {name}")
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                       f"{name} (committed)", f"{name} (now)"))
    if args.update:
        META.write_text(json.dumps(metadata(), indent=2) + "\n", encoding="utf-8")
        return 0
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
