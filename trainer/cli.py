"""`python -m rewardkit.trainer.cli CONFIG [key=value ...] [--resume DIR]`: the train command on its own.

This is the module `accelerate launch -m rewardkit.trainer.cli ...` runs in every process (DDP, FSDP,
DeepSpeed); single-process users run `rewardkit train` instead, which is the same command.
"""

from __future__ import annotations

import sys

from rewardkit.errors import RewardkitError
from rewardkit.trainer.plugin import train_command


def main(argv: list[str] | None = None) -> None:
    try:
        train_command.main(args=argv, prog_name="rewardkit train", standalone_mode=False)
    except RewardkitError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
