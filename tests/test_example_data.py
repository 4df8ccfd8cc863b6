"""The committed example survey is exactly what its script regenerates."""

import importlib.util
import json

from conftest import ROOT


def test_committed_survey_regenerates(tmp_path):
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "scripts" / "make_example_survey.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    csv, meta = mod.make(tmp_path / "survey.csv")
    assert csv.read_bytes() == mod.TARGET.read_bytes()
    new, old = json.loads(meta.read_text()), json.loads(mod.TARGET.with_suffix(".json").read_text())
    new.pop("smsem_version"), old.pop("smsem_version")
    assert new == old
