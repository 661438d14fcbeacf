"""Plugin discovery through real entry points, and every way a plugin can be broken."""

from __future__ import annotations

import pytest

import rewardkit as rk
from rewardkit.host import PluginHost

GOOD = """
import rewardkit as rk

class Good(rk.Environment):
    name = "good"
    def dataset(self, split):
        yield rk.Sample(id="0", prompt=[rk.user("hi")], answer="hi")
    async def score(self, sample, completion):
        return 1.0

@rk.hookimpl
def register_environments(register):
    register(Good)
"""


def load(**kwargs) -> PluginHost:
    return PluginHost().load_entry_points(**kwargs)


def test_installed_example_plugin_is_discovered_with_its_distribution():
    host = load()
    info = host.plugins["wordcount"]
    assert (info.distribution, info.version, info.status) == ("rewardkit-wordcount", "0.1.0", "ok")
    assert host.environment("wordcount").cls.__module__ == "rewardkit_wordcount"


def test_bundled_plugins_are_entry_points_of_rewardkit_itself():
    host = load()
    bundled = {name for name, info in host.plugins.items() if info.distribution == "rewardkit"}
    assert {"math", "format", "language", "code", "judge", "sandbox", "trainer"} <= bundled


def test_import_error_is_reported_and_other_plugins_still_load(make_dist):
    make_dist(
        "rewardkit-broken",
        {"broken_mod": "import does_not_exist_anywhere\n", "good_mod": GOOD},
        {"broken": "broken_mod", "good": "good_mod"},
    )
    host = load()
    broken = host.plugins["broken"]
    assert broken.status == "error"
    assert "does_not_exist_anywhere" in broken.errors[0]
    assert "rewardkit-broken" in host.load_errors()[0] and "broken_mod" in host.load_errors()[0]
    assert "good" in host.environments


def test_typod_hook_name_is_rejected_by_check_pending(make_dist):
    source = GOOD.replace("def register_environments", "def register_enviroments")
    make_dist(
        "rewardkit-typo", {"typo_mod": source, "good_mod": GOOD}, {"typo": "typo_mod", "good": "good_mod"}
    )
    host = load()
    assert host.plugins["typo"].status == "error"
    assert "register_enviroments" in host.plugins["typo"].errors[0]
    assert "good" in host.environments


def test_duplicate_environment_name_keeps_the_first_and_names_its_owner(make_dist):
    make_dist(
        "rewardkit-twins",
        {"first_mod": GOOD, "second_mod": GOOD},
        {"a_first": "first_mod", "b_second": "second_mod"},
    )
    host = load()
    assert host.environments["good"].plugin == "a_first"
    error = host.plugins["b_second"].errors[0]
    assert "'good' is already registered" in error and "a_first" in error


def test_wrong_plugin_api_version_is_refused_with_a_fix(make_dist):
    make_dist(
        "rewardkit-future", {"future_mod": "REWARDKIT_PLUGIN_API = 99\n" + GOOD}, {"future": "future_mod"}
    )
    host = load()
    error = host.plugins["future"].errors[0]
    assert "API 99" in error and f"supports API {rk.PLUGIN_API_VERSION}" in error
    assert "good" not in host.environments


def test_registering_a_non_environment_is_an_error_of_that_plugin(make_dist):
    source = (
        "import rewardkit as rk\n@rk.hookimpl\ndef register_environments(register):\n    register(dict)\n"
    )
    make_dist("rewardkit-wrongtype", {"wrong_mod": source}, {"wrong": "wrong_mod"})
    host = load()
    assert "expects an Environment subclass" in host.plugins["wrong"].errors[0]


def test_abstract_environment_is_rejected(make_dist):
    source = GOOD.replace("    async def score(self, sample, completion):\n        return 1.0\n", "")
    make_dist("rewardkit-abstract", {"abstract_mod": source}, {"abstract": "abstract_mod"})
    assert "does not implement score" in load().plugins["abstract"].errors[0]


def test_allow_list_env_var_limits_what_loads(make_dist, monkeypatch):
    make_dist("rewardkit-good", {"good_mod": GOOD}, {"good": "good_mod"})
    monkeypatch.setenv("REWARDKIT_PLUGINS", "good")
    host = load()
    assert host.plugins["good"].status == "ok"
    assert host.plugins["wordcount"].status == "disabled"
    assert "wordcount" not in host.environments


def test_unknown_environment_lists_known_ones_and_suggests(echo_host):
    with pytest.raises(rk.UnknownNameError) as caught:
        rk.load_environment("ech")
    assert "Did you mean 'echo'?" in str(caught.value)
    assert "parrot" in str(caught.value)


def test_aliases_resolve_to_the_same_class(echo_host):
    assert type(rk.load_environment("parrot")) is type(rk.load_environment("echo"))
    assert echo_host.plugins["echo"].environments == ["echo", "parrot"]


def test_registered_rewards_are_attributed(echo_host):
    assert echo_host.reward("test.short").plugin == "echo"
    assert echo_host.reward("test.exact").description.startswith("Sync registered reward")


def test_the_process_wide_host_loads_every_plugin_on_first_use(make_dist):
    from rewardkit.host import get_host, reset_host

    make_dist(
        "rewardkit-eager",
        {"good_mod": GOOD, "late_mod": "raise RuntimeError('broken at import')\n"},
        {"good": "good_mod", "zz_late": "late_mod"},
    )
    reset_host()
    host = get_host()
    assert host.environment("good").plugin == "good"
    # everything was loaded by that first use, broken plugins recorded, not only what was looked up
    assert "broken at import" in host.plugins["zz_late"].errors[0]
    assert {"math", "format", "sandbox", "wordcount"} <= set(host.plugins)
    assert get_host() is host


def test_an_unknown_name_is_refused_with_a_suggestion(make_dist):
    make_dist("rewardkit-good", {"good_mod": GOOD}, {"zz_good": "good_mod"})
    with pytest.raises(rk.UnknownNameError) as caught:
        load().environment("goood")
    assert "Did you mean 'good'?" in str(caught.value)


def test_a_plugin_looking_up_the_host_at_import_is_an_error_of_that_plugin(make_dist):
    from rewardkit.host import get_host, reset_host

    make_dist(
        "rewardkit-eager-lookup",
        {"eager_mod": "import rewardkit as rk\nrk.load_environment('good')\n", "good_mod": GOOD},
        {"aa_eager": "eager_mod", "good": "good_mod"},
    )
    reset_host()
    host = get_host()
    assert "looked up the plugin host while plugins were loading" in host.plugins["aa_eager"].errors[0]
    assert host.plugins["good"].status == "ok"


COMMAND = """
import click
import rewardkit as rk

@click.command("{name}")
def hello():
    click.echo("hello from {plugin}")

@rk.hookimpl
def register_commands(cli):
    cli.add_command(hello)
"""


def test_plugin_commands_are_collected_and_a_clash_is_the_second_plugins_error(make_dist):
    make_dist(
        "rewardkit-commands",
        {
            "first_cmd": COMMAND.format(name="hello", plugin="first"),
            "second_cmd": COMMAND.format(name="hello", plugin="second"),
        },
        {"a_first": "first_cmd", "b_second": "second_cmd"},
    )
    host = load()
    assert host.plugins["a_first"].commands == ["hello"]
    assert host.commands["hello"].callback.__module__ == "first_cmd"
    assert "command 'hello' is already added by plugin 'a_first'" in host.plugins["b_second"].errors[0]
