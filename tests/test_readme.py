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
