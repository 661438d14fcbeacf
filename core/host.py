"""The plugin host: discovers entry points, registers what each plugin hands over, records failures.

One broken plugin never stops the others: its import error, typo'd hook, name clash or API mismatch is
recorded against its distribution and entry point, and shown by `rewardkit plugins`.

The process-wide host (`get_host()`) loads every installed plugin on first use, as llm and pytest do:
rewardkit's own plugins first, then third-party ones by entry-point name, so the first to register a
name keeps it, whatever is looked up first.
"""

from __future__ import annotations

import importlib.metadata as md
import inspect
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pluggy

from rewardkit import hookspecs
from rewardkit.environment import EnvConfig, Environment
from rewardkit.errors import PluginError, UnknownNameError
from rewardkit.singleton import process_singleton

ENTRY_POINT_GROUP = "rewardkit"
ALLOW_ENV_VAR = "REWARDKIT_PLUGINS"

T = TypeVar("T")


@dataclass
class PluginInfo:
    """What one plugin is, where it came from, what it registered and what went wrong."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    environments: list[str] = field(default_factory=list)
    rewards: list[str] = field(default_factory=list)
    sandboxes: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    disabled: bool = False

    @property
    def status(self) -> str:
        if self.disabled:
            return "disabled"
        registered = self.environments or self.rewards or self.sandboxes or self.tools or self.commands
        if self.errors:
            return "partial" if registered else "error"
        return "ok"

    @property
    def origin(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else "no distribution"
        return f"plugin {self.name!r} ({dist}, entry point {self.name} = {self.module})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "environments": self.environments,
            "rewards": self.rewards,
            "sandboxes": self.sandboxes,
            "tools": self.tools,
            "commands": self.commands,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class EnvEntry:
    cls: type[Environment]
    plugin: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class RewardSpec:
    name: str
    fn: Callable[..., Any]
    plugin: str
    reward_range: tuple[float, float] = (0.0, 1.0)
    description: str = ""


@dataclass(frozen=True)
class SandboxEntry:
    name: str
    factory: Callable[..., Any]
    plugin: str


@dataclass(frozen=True)
class ToolEntry:
    tool: Any  # rewardkit.episodes.Tool (not imported here: the host stays free of the episodes package)
    plugin: str


class PluginHost:
    """Registry of environments, rewards, sandboxes and commands contributed by plugins."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.environments: dict[str, EnvEntry] = {}
        self.rewards: dict[str, RewardSpec] = {}
        self.sandboxes: dict[str, SandboxEntry] = {}
        self.tools: dict[str, ToolEntry] = {}
        self.commands: dict[str, Any] = {}  # name -> click command, added to the `rewardkit` CLI

    # -- loading -----------------------------------------------------------------------------------
    def load_entry_points(self, allow: Iterable[str] | None = None) -> PluginHost:
        """Import and register every installed plugin now, each in isolation from the others.

        `allow` (default: the REWARDKIT_PLUGINS variable) names the entry points to load; the others are
        listed as disabled.
        """
        allowed = set(allow) if allow is not None else _allowed_from_env()
        for ep, dist in _bundled_first(md.entry_points(group=ENTRY_POINT_GROUP)):
            self._load(ep, dist, allowed)
        return self

    def _load(self, ep: md.EntryPoint, dist: tuple[str | None, str | None], allowed: set[str] | None) -> None:
        info = PluginInfo(ep.name, ep.value, *dist)
        if ep.name in self.plugins:
            info.errors.append(
                f"entry point name {ep.name!r} is already used by "
                f"{self.plugins[ep.name].origin}; it was not loaded"
            )
            self.plugins[f"{ep.name}@{info.distribution}"] = info
            return
        self.plugins[ep.name] = info
        if allowed is not None and ep.name not in allowed:
            info.disabled = True
            return
        try:
            plugin = ep.load()
        except Exception as error:
            info.errors.append(f"import failed: {type(error).__name__}: {error}")
            return
        self._register(info, plugin)

    def add_plugin(self, name: str, plugin: object, distribution: str | None = None) -> PluginInfo:
        """Register an in-process plugin object (tests, notebooks). Same checks as entry points."""
        module = getattr(plugin, "__name__", type(plugin).__name__)
        info = PluginInfo(name, module, distribution)
        self.plugins[name] = info
        self._register(info, plugin)
        return info

    def _register(self, info: PluginInfo, plugin: object) -> None:
        declared = getattr(plugin, "REWARDKIT_PLUGIN_API", hookspecs.PLUGIN_API_VERSION)
        if declared != hookspecs.PLUGIN_API_VERSION:
            info.errors.append(
                f"targets rewardkit plugin API {declared}, but this rewardkit supports API "
                f"{hookspecs.PLUGIN_API_VERSION}; install a release of {info.distribution or info.name} "
                f"built for API {hookspecs.PLUGIN_API_VERSION}, or a rewardkit that supports API {declared}"
            )
            return
        try:
            self.pm.register(plugin, name=info.name)
            self.pm.check_pending()
        except Exception as error:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            info.errors.append(f"invalid hooks: {error}")
            return
        self._call(info, plugin, "register_environments", register=self._env_registrar(info))
        self._call(info, plugin, "register_rewards", register=self._reward_registrar(info))
        self._call(info, plugin, "register_sandboxes", register=self._sandbox_registrar(info))
        self._call(info, plugin, "register_tools", register=self._tool_registrar(info))
        self._collect_commands(info, plugin)

    def _call(self, info: PluginInfo, plugin: object, hook_name: str, **kwargs: Any) -> None:
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            if impl.plugin is not plugin:
                continue
            try:
                impl.function(**{name: kwargs[name] for name in impl.argnames})
            except Exception as error:
                info.errors.append(f"{hook_name} raised {type(error).__name__}: {error}")

    def _collect_commands(self, info: PluginInfo, plugin: object) -> None:
        """Let the plugin add click commands to a group of its own, then take them over."""
        import click  # imported on first load, not by `import rewardkit`

        group = click.Group(info.name)
        self._call(info, plugin, "register_commands", cli=group)
        for name, command in group.commands.items():
            if name in self.commands:
                owner = next(p for p in self.plugins.values() if name in p.commands)
                info.errors.append(f"command {name!r} is already added by {owner.origin}; rename it")
                continue
            self.commands[name] = command
            info.commands.append(name)

    # -- host-owned register callbacks ---------------------------------------------------------------
    def _env_registrar(self, info: PluginInfo) -> Callable[..., None]:
        def register(env_cls: type[Environment], aliases: Iterable[str] = ()) -> None:
            problem = _env_class_problem(env_cls)
            if problem:
                raise PluginError(problem)
            aliases = tuple(aliases)
            for name in (env_cls.name, *aliases):
                if name in self.environments:
                    owner = self.plugins[self.environments[name].plugin].origin
                    info.errors.append(
                        f"environment {name!r} is already registered by {owner}; "
                        "rename it or uninstall one of the two"
                    )
                    continue
                self.environments[name] = EnvEntry(env_cls, info.name, aliases)
                info.environments.append(name)

        return register

    def _reward_registrar(self, info: PluginInfo) -> Callable[..., None]:
        def register(
            name: str,
            fn: Callable[..., Any],
            reward_range: tuple[float, float] = (0.0, 1.0),
            description: str = "",
        ) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(f"reward names must be non-empty strings, got {name!r}")
            if not callable(fn):
                raise PluginError(f"reward {name!r}: {fn!r} is not callable")
            low, high = (float(x) for x in reward_range)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise PluginError(
                    f"reward {name!r}: reward_range must be finite (low, high), got {reward_range}"
                )
            if name in self.rewards:
                owner = self.plugins[self.rewards[name].plugin].origin
                info.errors.append(f"reward {name!r} is already registered by {owner}; rename it")
                return
            doc = description or (inspect.getdoc(fn) or "").split("\n")[0]
            self.rewards[name] = RewardSpec(name, fn, info.name, (low, high), doc)
            info.rewards.append(name)

        return register

    def _sandbox_registrar(self, info: PluginInfo) -> Callable[..., None]:
        def register(name: str, factory: Callable[..., Any]) -> None:
            if not isinstance(name, str) or not name or not callable(factory):
                raise PluginError(f"register(name, factory) needs a name and a callable, got {name!r}")
            if name in self.sandboxes:
                owner = self.plugins[self.sandboxes[name].plugin].origin
                info.errors.append(f"sandbox {name!r} is already registered by {owner}; rename it")
                return
            self.sandboxes[name] = SandboxEntry(name, factory, info.name)
            info.sandboxes.append(name)

        return register

    def _tool_registrar(self, info: PluginInfo) -> Callable[..., None]:
        def register(name: str, fn: Callable[..., Any], timeout: float | None = None) -> None:
            from rewardkit.episodes.tools import make_tool

            if not isinstance(name, str) or not name:
                raise PluginError(f"tool names must be non-empty strings, got {name!r}")
            built = make_tool(fn, name=name, timeout=timeout)  # schema problems fail the registration
            if name in self.tools:
                owner = self.plugins[self.tools[name].plugin].origin
                info.errors.append(f"tool {name!r} is already registered by {owner}; rename it")
                return
            self.tools[name] = ToolEntry(built, info.name)
            info.tools.append(name)

        return register

    # -- lookups ------------------------------------------------------------------------------------
    def environment(self, name: str) -> EnvEntry:
        return _lookup("environment", self.environments, name)

    def reward(self, name: str) -> RewardSpec:
        return _lookup("reward", self.rewards, name)

    def sandbox(self, name: str) -> SandboxEntry:
        return _lookup("sandbox", self.sandboxes, name)

    def tool(self, name: str) -> Any:
        """The registered rewardkit.episodes.Tool named `name`."""
        return _lookup("tool", self.tools, name).tool

    def plugin_of(self, env_name: str) -> PluginInfo:
        return self.plugins[self.environment(env_name).plugin]

    def load_errors(self) -> list[str]:
        return [f"{info.origin}: {error}" for info in self.plugins.values() for error in info.errors]


def _lookup(kind: str, registry: dict[str, T], name: str) -> T:
    if name not in registry:
        raise UnknownNameError(kind, name, registry) from None
    return registry[name]


def _env_class_problem(env_cls: Any) -> str | None:
    if not (isinstance(env_cls, type) and issubclass(env_cls, Environment)):
        return f"register() expects an Environment subclass, got {env_cls!r}"
    name = getattr(env_cls, "name", None)
    if not isinstance(name, str) or not name:
        return f"{env_cls.__qualname__} must set a class attribute `name` (a non-empty string)"
    if not (isinstance(env_cls.Config, type) and issubclass(env_cls.Config, EnvConfig)):
        return f"{env_cls.__qualname__}.Config must subclass rewardkit.EnvConfig"
    if inspect.isabstract(env_cls):
        missing = ", ".join(sorted(getattr(env_cls, "__abstractmethods__", ())))
        return f"{env_cls.__qualname__} does not implement {missing}"
    return None


def _allowed_from_env() -> set[str] | None:
    value = os.environ.get(ALLOW_ENV_VAR)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _bundled_first(
    eps: Iterable[md.EntryPoint],
) -> list[tuple[md.EntryPoint, tuple[str | None, str | None]]]:
    """Entry points with their distribution's (name, version), in load order: rewardkit's own plugins (so a
    third-party name clash never displaces one), then by name. Each distribution's metadata file is
    parsed once, not once per entry point."""
    names: dict[int, tuple[str | None, str | None]] = {}

    def dist_of(ep: md.EntryPoint) -> tuple[str | None, str | None]:
        dist = getattr(ep, "dist", None)
        if dist is None:
            return None, None
        if id(dist) not in names:
            names[id(dist)] = (dist.name, dist.version)
        return names[id(dist)]

    found = [(ep, dist_of(ep)) for ep in eps]
    return sorted(found, key=lambda pair: (pair[1][0] != "rewardkit", pair[0].name))


@process_singleton
def get_host() -> PluginHost:
    """The process-wide host, with every installed plugin loaded (on the first call)."""
    return PluginHost().load_entry_points()


def reset_host(host: PluginHost | None = None) -> None:
    """Install `host` as the process-wide one, or (None) forget it so the next use loads the plugins afresh
    (tests; after installing a plugin at run time)."""
    get_host.reset()
    if host is not None:
        get_host.set(host)
