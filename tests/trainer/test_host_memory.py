"""retain_freed_memory: training steps reuse freed heap memory instead of page-faulting it in again."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

# A training loop shaped like the trainer's: MLP blocks, a row count that changes every step (completion
# lengths do), backward and AdamW. Prints the minor page faults of each step.
PROBE = """
import json, resource, sys, torch
from rewardkit.trainer.host_memory import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
torch.manual_seed(0)
block = lambda: torch.nn.Sequential(torch.nn.Linear(512, 1024), torch.nn.SiLU(), torch.nn.Linear(1024, 512))
model = torch.nn.Sequential(*[block() for _ in range(4)])
opt = torch.optim.AdamW(model.parameters())
faults = []
for step in range(12):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    model(torch.randn(300 + (step * 37) % 85, 512)).square().mean().backward()
    opt.step()
    opt.zero_grad()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps(faults))
"""

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's")


def late_step_faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return sum(json.loads(done.stdout)[4:])  # the first steps fault the memory in, with or without it


def test_training_steps_stop_page_faulting_once_memory_is_retained() -> None:
    retained, default = late_step_faults("retain"), late_step_faults("default")
    # Measured: about 0.4-0.6k vs 9-14k faults over these 8 steps (a 16k-page working set).
    assert retained < 4000
    assert retained * 3 < default


def test_the_run_config_turns_it_on_by_default_and_off_on_request() -> None:
    from rewardkit.trainer.config import TrainConfig

    base = {"model": {"path": "tiny://qwen2"}, "environments": [{"name": "math.procedural"}]}
    assert TrainConfig.model_validate(base).retain_freed_memory
    assert not TrainConfig.model_validate({**base, "retain_freed_memory": False}).retain_freed_memory
