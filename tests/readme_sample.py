"""The README's sample output of ``make demo``, produced by a real demo refresh.

    python tests/readme_sample.py            # print the block as the README should show it
    python tests/readme_sample.py --write    # and put it into README.md in place of the old one

``make demo`` runs ``aggregator demo`` and then ``aggregator stories``; the block is the refresh
report (without the line naming the database file) and the top three stories. The refresh is
deterministic (feeds are stored in list order, ties broken by id), so the block changes only
when the code or the corpus does; tests/test_readme.py fails when the README and the block
differ.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
TOP = 3
# The fenced block right after the sentence that introduces it.
BLOCK = re.compile(r"(Sample output of `make demo`.*?\n\n```text\n)(.*?)(\n```)", re.S)


def aggregator(db: Path | str, *args: str) -> str:
    """Run the CLI from this checkout as a user would; its standard output."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "--db", str(db), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):  # 1: a feed failed, which the demo does on purpose
        raise RuntimeError(f"aggregator {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def run_demo(db: Path | str) -> str:
    """Refresh the demo corpus into ``db``; the lines the README shows, as one string."""
    report = [
        line for line in aggregator(db, "demo").splitlines() if not line.startswith("database: ")
    ]
    stories = aggregator(db, "stories", "--limit", str(TOP)).splitlines()
    return "\n".join(report + stories)


def readme_block(text: str) -> str:
    found = BLOCK.search(text)
    if found is None:
        raise ValueError("README.md has no 'Sample output of `make demo`' block")
    return found.group(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="replace the block in README.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        block = run_demo(Path(tmp) / "demo.db")
    print(block)
    if args.write:
        text = README.read_text(encoding="utf-8")
        readme_block(text)  # fails loudly when the block is missing
        README.write_text(
            BLOCK.sub(lambda m: m.group(1) + block + m.group(3), text, count=1), encoding="utf-8"
        )


if __name__ == "__main__":
    main()
