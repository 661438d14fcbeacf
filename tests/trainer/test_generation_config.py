"""The `generation` section: server mode, one-step-off generation and stops, validated with field paths."""

import pytest

from rewardkit.errors import ConfigError
from rewardkit.trainer.config import parse_config

MINIMAL = {"model": {"path": "tiny://qwen2"}, "environments": [{"name": "toy.tags"}]}
SERVER = ["generation.backend=vllm", "generation.vllm.mode=server"]


def test_server_mode_and_stops_parse():
    config = parse_config(
        MINIMAL, [*SERVER, "generation.one_step_off=true", 'generation.stop_strings=["</answer>"]']
    )
    assert config.generation.vllm.mode == "server" and config.generation.one_step_off
    assert config.generation.vllm.server_url == "http://127.0.0.1:8000"
    assert config.generation.stop_strings == ["</answer>"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["generation.one_step_off=true"],
            "generation: .*one_step_off .* needs backend: vllm with vllm.mode: server",
        ),
        (
            ["generation.backend=vllm", "generation.one_step_off=true"],
            "needs backend: vllm with vllm.mode: server",
        ),
        ([*SERVER, "generation.one_step_off=true", "grpo.tis_cap=null"], "set grpo.tis_cap"),
        (["generation.vllm.mode=remote"], "generation.vllm.mode: Input should be 'colocate' or 'server'"),
        (["generation.lean_decode=false"], "generation.lean_decode: unknown field"),
    ],
)
def test_errors_name_the_field_and_the_fix(overrides, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(MINIMAL, overrides)
