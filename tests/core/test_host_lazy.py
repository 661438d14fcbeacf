"""Registration by import path, and the two-tier process-wide host (bundled plugins first, third-party
plugins when first needed)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner

import rewardkit as rk
from rewardkit.host import PluginHost, get_host, reset_host

IMPL = """
import rewardkit as rk

class Lazy(rk.Environment):
    name = "{name}"
    def dataset(self, split):
        yield rk.Sample(id="0", prompt=[rk.user("say hi")], answer="hi")
    async def score(self, sample, completion):
        return float(completion == sample.answer)

class NotAnEnvironment:
    name = "{name}"

def exact(sample, completion, *, strict=True):
    '''Exact match, registered by path.'''
    return float(completion == sample.answer)
"""

ENTRY = """
import rewardkit as rk

@rk.hookimpl
def register_environments(register):
    register("{module}:{cls}", name="{name}", aliases=("{name}-alias",))

@rk.hookimpl
def register_rewards(register):
    register("{name}.exact", "{module}:{fn}", reward_range=(0.0, 1.0))
"""


def lazy_plugin(make_dist, tag: str, cls: str = "Lazy", fn: str = "exact", module: str | None = None) -> None:
    """Install plugin `tag` whose entry module registers environment `tag` and reward `tag.exact` by path
    into module `{tag}_impl` (unique per test: sys.modules outlives a test)."""
    impl = f"{tag}_impl"
    make_dist(
        f"rewardkit-{tag}",
        {
            impl: IMPL.format(name=tag),
            f"{tag}_entry": ENTRY.format(module=module or impl, cls=cls, fn=fn, name=tag),
        },
        {tag: f"{tag}_entry"},
    )


def test_a_path_registered_environment_and_reward_are_imported_on_first_use(make_dist):
    lazy_plugin(make_dist, "lazyok")
    host = PluginHost().load_entry_points()
    assert host.plugins["lazyok"].environments == ["lazyok", "lazyok-alias"]
    assert "lazyok_impl" not in sys.modules
    env = host.environment("lazyok-alias").cls()
    assert type(env).__module__ == "lazyok_impl" and env.name == "lazyok"
    reward = host.reward("lazyok.exact")
    assert reward.description == "Exact match, registered by path."
    assert reward.fn(rk.Sample("0", [rk.user("x")], answer="hi"), "hi") == 1.0
    assert host.plugins["lazyok"].status == "ok" and host.load_errors() == []


def test_a_rubric_with_a_path_registered_reward_checks_its_params_when_built(make_dist):
    lazy_plugin(make_dist, "lazyparams")
    reset_host(PluginHost().load_entry_points())
    assert rk.make_rubric({"lazyparams.exact": {"weight": 1.0, "strict": False}}).items
    with pytest.raises(rk.ConfigError, match=r"lazyparams\.exact"):
        rk.make_rubric({"lazyparams.exact": {"weight": 1.0, "strikt": False}})


@pytest.mark.parametrize(
    ("kind", "options", "expected"),
    [
        ("nomodule", {"module": "no_such_module_anywhere"}, "ModuleNotFoundError: No module named"),
        ("noattr", {"cls": "Missing"}, "AttributeError"),
        ("notenv", {"cls": "NotAnEnvironment"}, "expects an Environment subclass"),
        ("mismatch", {"module": "lazyok_impl"}, "Lazy.name is 'lazyok', not the registered name"),
    ],
)
def test_a_bad_environment_path_is_a_one_line_error_on_lookup_and_a_plugin_error(
    make_dist, kind, options, expected
):
    lazy_plugin(make_dist, "lazyok")  # the mismatch case points at this module, whose class is 'lazyok'
    tag = f"bad{kind}"
    lazy_plugin(make_dist, tag, **options)
    host = PluginHost().load_entry_points()
    assert host.plugins[tag].errors == []  # the path is only imported when used
    with pytest.raises(rk.PluginError) as caught:
        host.environment(tag).cls  # noqa: B018
    message = str(caught.value)
    assert "\n" not in message and expected in message
    assert f"plugin {tag!r} (rewardkit-{tag} 1.0" in message
    assert f"environment {tag!r} registered as" in message
    recorded = host.plugins[tag].errors
    assert len(recorded) == 1 and expected in recorded[0]
    with pytest.raises(rk.PluginError):  # the alias shares the entry: same error, recorded once
        host.environment(f"{tag}-alias").cls  # noqa: B018
    assert len(host.plugins[tag].errors) == 1


def test_a_bad_reward_path_is_an_error_on_use(make_dist):
    lazy_plugin(make_dist, "badreward", fn="missing_function")
    host = PluginHost().load_entry_points()
    with pytest.raises(
        rk.PluginError, match=r"reward 'badreward\.exact' registered as 'badreward_impl:missing"
    ):
        host.reward("badreward.exact").fn  # noqa: B018
    reset_host(host)
    with pytest.raises(rk.PluginError, match="badreward_impl:missing_function"):
        rk.make_rubric({"badreward.exact": 1.0})


def test_listings_and_the_contract_kit_resolve_every_path(make_dist):
    lazy_plugin(make_dist, "badlisted", cls="Missing")
    from rewardkit.cli.main import cli
    from rewardkit.testing import ContractError, check_plugin

    reset_host()
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    row = next(row for row in json.loads(result.output) if row["name"] == "badlisted")
    assert row["status"] == "partial" and "badlisted_impl:Missing" in row["errors"][0]

    reset_host()
    result = CliRunner().invoke(cli, ["envs", "--json"])
    assert result.exit_code == 0, result.output
    assert "badlisted_impl:Missing" in result.stderr
    assert {"math", "wordcount"} <= {row["name"] for row in json.loads(result.stdout)}

    reset_host()
    assert any("badlisted_impl:Missing" in error for error in get_host().load_errors())
    with pytest.raises(ContractError, match=r"registers cleanly: .*badlisted_impl:Missing"):
        check_plugin("badlisted")
    assert check_plugin("math").passed


def test_the_contract_of_an_environment_fails_when_its_plugin_has_a_bad_path(make_dist):
    from rewardkit.testing import ContractError, check_environment

    lazy_plugin(make_dist, "halfbad", fn="missing_function")  # the environment is fine, its reward is not
    with pytest.raises(ContractError, match=r"plugin 'halfbad' registers cleanly: .*missing_function"):
        check_environment("halfbad")


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("register('not a path', name='x')", "is not an import path; write it as 'package.module:attribute'"),
        ("register('pkg.mod:Cls')", "give the environment's name"),
    ],
)
def test_the_path_format_and_the_name_are_checked_at_registration(make_dist, call, expected):
    source = f"import rewardkit as rk\n@rk.hookimpl\ndef register_environments(register):\n    {call}\n"
    module = f"badformat_{abs(hash(call))}"  # one per case: sys.modules outlives a test
    make_dist("rewardkit-badformat", {module: source}, {"badformat": module})
    host = PluginHost().load_entry_points()
    assert expected in host.plugins["badformat"].errors[0]
    assert host.plugins["badformat"].environments == []


def test_a_tool_registered_by_path_is_built_on_first_use(make_dist):
    source = (
        "import rewardkit as rk\n@rk.hookimpl\ndef register_tools(register):\n"
        "    register('lazytool.echo', 'lazytool_impl:echo', timeout=5.0)\n"
    )
    tool = (
        "def echo(text: str) -> str:\n    '''Repeat the text.\n\n    Args:\n        text: what to say.\n"
        "    '''\n    return text\n"
    )
    make_dist(
        "rewardkit-lazytool",
        {"lazytool_entry": source, "lazytool_impl": tool},
        {"lazytool": "lazytool_entry"},
    )
    host = PluginHost().load_entry_points()
    assert "lazytool_impl" not in sys.modules
    built = host.tool("lazytool.echo")
    assert built.name == "lazytool.echo" and built.timeout == 5.0


# -- the process-wide host's two tiers ----------------------------------------------------------------

CHILD = """
import json, sys
import rewardkit as rk
rk.load_environment("math")
rk.make_rubric({"math.accuracy": 1.0, "format.length": {"weight": 0.1, "min": 10}})
watched = ("rewardkit.plugins.", "rewardkit_", "docstring_parser", "rewardkit.sandbox.", "rewardkit.episodes")
before = sorted(m for m in sys.modules if m.startswith(watched))
rk.load_environment("wordcount")
after = sorted(m for m in sys.modules if m.startswith("rewardkit_"))
print(json.dumps({"before": before, "after": after}))
"""


def test_loading_math_imports_no_other_environment_module_nor_any_third_party_plugin():
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    modules = json.loads(done.stdout)
    others = [
        m
        for m in modules["before"]
        if not m.startswith(
            ("rewardkit.plugins.math", "rewardkit.plugins.format", "rewardkit.sandbox.plugin")
        )
    ]
    # the other bundled plugins' entry modules load (a few lines each); none of their environments do, nor
    # the sandbox API or the episode API
    assert set(others) <= {
        f"rewardkit.plugins.{name}" for name in ("code", "episodes", "ifeval", "judge", "language")
    }
    assert "rewardkit.plugins.format.length" in modules["before"]
    assert "rewardkit.plugins.format.json_format" not in modules["before"]
    assert "rewardkit_wordcount" in modules["after"] and "rewardkit_citysize" in modules["after"]


def test_a_third_party_plugin_registering_a_bundled_name_loses_and_its_clash_is_listed(make_dist):
    source = ENTRY.format(module="clash_impl", cls="Lazy", fn="exact", name="gsm8k")
    make_dist(
        "rewardkit-clash",
        {"clash_impl": IMPL.format(name="gsm8k"), "aa_clash": source},
        {"aa_clash": "aa_clash"},
    )
    host = get_host()
    assert host.environment("gsm8k").plugin == "math"
    assert "aa_clash" not in sys.modules  # a bundled name never needs the third-party tier
    assert host.environment("gsm8k-alias").plugin == "aa_clash"  # a name math lacks loads it
    assert "'gsm8k' is already registered by plugin 'math'" in host.plugins["aa_clash"].errors[0]
    assert host.environment("gsm8k").cls.__module__ == "rewardkit.plugins.math.env"


def test_an_enumeration_loads_the_third_party_tier():
    host = get_host()
    assert "wordcount" not in host._plugins  # the tier waits until needed
    assert "wordcount" in host.environments and host.plugins["wordcount"].status == "ok"


def test_a_bundled_command_is_found_without_the_third_party_tier():
    host = get_host()
    assert host.command("train").name == "train"
    assert "wordcount" not in host._plugins
    assert host.command("no-such-command") is None and "wordcount" in host._plugins


def test_the_allow_list_applies_to_both_tiers(make_dist, monkeypatch):
    lazy_plugin(make_dist, "lazyallowed")
    monkeypatch.setenv("REWARDKIT_PLUGINS", "math,lazyallowed")
    host = get_host()
    assert host.environment("gsm8k").plugin == "math"
    with pytest.raises(rk.UnknownNameError):
        host.reward("format.length")
    assert host.environment("lazyallowed").plugin == "lazyallowed"
    assert host.plugins["format"].status == "disabled" and host.plugins["wordcount"].status == "disabled"
    with pytest.raises(rk.UnknownNameError):
        host.environment("wordcount")


def test_concurrent_lookups_load_the_third_party_tier_once():
    host = get_host()
    barrier, found, failures = threading.Barrier(8), [], []

    def look_up() -> None:
        barrier.wait()
        try:
            found.append(host.environment("wordcount"))
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=look_up) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and len({id(entry) for entry in found}) == 1
    assert not any(name.startswith("wordcount@") for name in host.plugins)
    assert host.load_errors() == []


def test_without_rewardkits_own_metadata_every_plugin_loads_at_once(monkeypatch):
    import importlib.metadata as md

    def missing(name: str):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(md, "distribution", missing)
    host = get_host()
    assert "wordcount" in host._plugins and host._plugins["math"].distribution == "rewardkit"
