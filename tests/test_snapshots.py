"""Frozen text outputs (tests/reference/snapshots/): formatting changes show up here.

Every file there is rendered by an entry of ``snapshot_cases.SNAPSHOTS``; after an
intended change, regenerate them with
``PYTHONPATH=.:tests python scripts/update_snapshots.py --update`` and review the diff.
"""

from __future__ import annotations

import pytest

from snapshot_cases import META, SNAP, SNAPSHOTS, metadata, read_metadata


def test_every_snapshot_file_has_a_renderer_and_metadata():
    files = sorted(p.name for p in SNAP.iterdir() if p != META)
    assert files == sorted(SNAPSHOTS)
    # The metadata is the one --update writes for the committed files (checksums current).
    assert read_metadata() == metadata()


@pytest.mark.parametrize("name", sorted(SNAPSHOTS))
def test_snapshot_is_unchanged(name):
    assert SNAPSHOTS[name]() == (SNAP / name).read_text(encoding="utf-8"), (
        f"{name} changed; if intended: PYTHONPATH=.:tests python scripts/update_snapshots.py --update")
