"""The README's sample output is what ``make demo`` prints now."""

from __future__ import annotations

import pytest
from conftest import DemoRun
from readme_sample import README, readme_block

pytestmark = pytest.mark.slow


def test_readme_sample_output_is_what_the_demo_prints(demo_run: DemoRun) -> None:
    shown = readme_block(README.read_text(encoding="utf-8"))
    assert shown == demo_run.output, (
        "README.md's sample output of `make demo` differs from a real run; "
        "regenerate it with `python tests/readme_sample.py --write`"
    )
