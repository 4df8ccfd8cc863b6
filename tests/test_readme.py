"""The README's set-up commands stay true: CI runs the second one verbatim."""

import re

from conftest import ROOT


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_two_setup_commands_first_runs_reproduce():
    cmds = _setup_commands()
    assert len(cmds) == 2
    assert cmds[0].endswith("smsem reproduce")
    assert "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _setup_commands()[1] in ci.splitlines()


def test_every_subpackage_is_installed():
    """`pip install .` (not editable) installs the packages setup.cfg lists: every folder of
    smsem with an __init__.py must be listed (a new subpackage once failed only in CI)."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    listed = {line.strip() for line in cfg["options"]["packages"].splitlines() if line.strip()}
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "smsem").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
