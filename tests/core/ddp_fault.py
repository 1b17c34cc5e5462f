"""Test helper: ``tweetgen`` as torchrun's entry point, with one fault on one rank.

``FAULT`` picks the fault and ``FAULT_RANK`` the rank that has it (default 0):

- ``disk_full``: the disk fills during that rank's second checkpoint write (``ENOSPC``);
- ``missing_data``: on that rank the DATA argument ``$FAULT_DATA`` names a file that is not there;
- ``crash``: a bug on that rank at step ``$FAULT_STEP`` (an exception no other rank knows of).

Not a launcher: torchrun starts it like ``.venv/bin/tweetgen``.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

if __name__ == "__main__":
    argv = sys.argv[1:]
    if int(os.environ.get("RANK", "0")) == int(os.environ.get("FAULT_RANK", "0")):
        fault = os.environ.get("FAULT", "")
        if fault == "disk_full":
            from core.store import checkpoints

            real_write, writes = checkpoints.atomic_write, [0]

            def full(path: Any, write: Any) -> None:
                if str(path).endswith(".pt"):
                    writes[0] += 1
                    if writes[0] >= 2:
                        raise OSError(errno.ENOSPC, "No space left on device")
                real_write(path, write)

            checkpoints.atomic_write = full
        elif fault == "missing_data":
            argv = [a + ".missing" if a == os.environ["FAULT_DATA"] else a for a in argv]
        elif fault == "crash":
            from core.train.trainer import Trainer

            real_step, at = Trainer.train_step, int(os.environ.get("FAULT_STEP", "7"))

            def step(self: Any, batch: Any) -> Any:
                if self.progress.step == at:
                    raise ZeroDivisionError("injected bug")
                return real_step(self, batch)

            Trainer.train_step = step  # type: ignore[method-assign]
    from core.cli.main import main

    raise SystemExit(main(argv))
