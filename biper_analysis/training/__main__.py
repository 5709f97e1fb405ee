"""``torchrun --nproc_per_node N -m biper_analysis.training [train options]``: the train command under DDP.

Takes the same options as ``biper-analysis train``; ``--batch-size`` is the global batch. Bad input: one line
on stderr and exit status 2 (from the rank that sees it).
"""

from __future__ import annotations

import sys

from biper_analysis.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["train", *sys.argv[1:]]))
