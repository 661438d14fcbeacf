"""The plugin host: discovers entry points, registers what each plugin hands over, records failures.

One broken plugin never stops the others: its import error, typo'd hook, name clash, API mismatch or bad
import path is recorded against its distribution and entry point, and shown by `rewardkit plugins`.

The process-wide host (`get_host()`) loads in two tiers, so a command imports only what it uses:
rewardkit's own plugins on first use (read from rewardkit's own distribution, no scan of every installed
one), then every third-party plugin, by entry-point name, the first time anything needs them: a name the
bundled plugins lack, or any enumeration (`host.plugins`, `host.environments`, listings, plugin commands).
Bundled plugins load first and the first plugin to register a name keeps it, so every lookup gives the
same answer as loading everything at once. Plugins may register environments, rewards and tools by import
path ("package.module:attr"); the host imports and checks such an entry on its first use.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata as md
import inspect
import math
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import pluggy

from rewardkit import hookspecs
from rewardkit.environment import EnvConfig, Environment
from rewardkit.errors import PluginError, UnknownNameError
from rewardkit.singleton import process_singleton

ENTRY_POINT_GROUP = "rewardkit"
ALLOW_ENV_VAR = "REWARDKIT_PLUGINS"
IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")

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


class Registered:
    """One registered object: given as itself, or as an import path ("module:attr") that is imported and
    prepared (checked, built) on first use. A failure there is a one-line PluginError, also recorded in
    the plugin's errors so `rewardkit plugins` shows it; it is raised again on every later use."""

    def __init__(
        self, target: Any, what: str, info: PluginInfo, prepare: Callable[[Any], Any] = lambda value: value
    ) -> None:
        self.path: str | None = target if isinstance(target, str) else None
        self.what, self._info, self._prepare = what, info, prepare
        self._value: Any = None if self.path else target
        self._error: PluginError | None = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._value is not None:
            return self._value
        with self._lock:  # one import and one recorded error, whichever thread asks first
            if self._value is None and self._error is None:
                self._resolve()
            if self._error is not None:
                raise self._error
            return self._value

    def _resolve(self) -> None:
        assert self.path is not None
        module, _, attr = self.path.partition(":")
        try:
            value: Any = importlib.import_module(module)
            for part in attr.split("."):
                value = getattr(value, part)
            self._value = self._prepare(value)
            return
        except PluginError as error:
            problem = f"{error}"
        except Exception as error:
            first_line = (str(error).splitlines() or [""])[0]
            problem = (
                f"import failed: {type(error).__name__}: {first_line}; fix the path in the plugin's "
                "register hook, or install what it imports"
            )
        message = f"{self.what} registered as {self.path!r}: {problem}"
        if message not in self._info.errors:
            self._info.errors.append(message)
        self._error = PluginError(f"{self._info.origin}: {message}")


@dataclass(frozen=True)
class EnvEntry:
    """An environment under one of its names; `cls` imports a class registered by path on first use."""

    ref: Registered
    plugin: str
    aliases: tuple[str, ...] = ()

    @property
    def cls(self) -> type[Environment]:
        return self.ref.get()


@dataclass(frozen=True)
class RewardSpec:
    """A registered reward; `fn` imports a function registered by path on first use."""

    name: str
    ref: Registered
    plugin: str
    reward_range: tuple[float, float] = (0.0, 1.0)
    given_description: str = ""

    @property
    def fn(self) -> Callable[..., Any]:
        return self.ref.get()

    @property
    def description(self) -> str:
        """The description given at registration, else the first line of the function's docstring."""
        return self.given_description or (inspect.getdoc(self.fn) or "").split("\n")[0]


@dataclass(frozen=True)
class SandboxEntry:
    name: str
    factory: Callable[..., Any]
    plugin: str


@dataclass(frozen=True)
class ToolEntry:
    """A registered rewardkit.episodes.Tool (not imported here: the host stays free of the episodes
    package); a tool registered by path is imported and built on first use."""

    ref: Registered
    plugin: str

    @property
    def tool(self) -> Any:
        return self.ref.get()


class PluginHost:
    """Registry of environments, rewards, sandboxes, tools and commands contributed by plugins.

    The public registries (`plugins`, `environments`, `rewards`, `sandboxes`, `tools`, `commands`) are
    complete views: reading one loads the third-party tier if it is still pending.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._plugins: dict[str, PluginInfo] = {}
        self._environments: dict[str, EnvEntry] = {}
        self._rewards: dict[str, RewardSpec] = {}
        self._sandboxes: dict[str, SandboxEntry] = {}
        self._tools: dict[str, ToolEntry] = {}
        self._commands: dict[str, Any] = {}  # name -> click command, added to the `rewardkit` CLI
        self._deferred = False  # the third-party tier waits to be loaded
        self._deferred_allow: set[str] | None = None
        self._tier_lock = threading.RLock()
        self._tier_loader: int | None = None  # the thread loading the third-party tier now

    # -- complete views ------------------------------------------------------------------------------
    @property
    def plugins(self) -> dict[str, PluginInfo]:
        self.load_pending()
        return self._plugins

    @property
    def environments(self) -> dict[str, EnvEntry]:
        self.load_pending()
        return self._environments

    @property
    def rewards(self) -> dict[str, RewardSpec]:
        self.load_pending()
        return self._rewards

    @property
    def sandboxes(self) -> dict[str, SandboxEntry]:
        self.load_pending()
        return self._sandboxes

    @property
    def tools(self) -> dict[str, ToolEntry]:
        self.load_pending()
        return self._tools

    @property
    def commands(self) -> dict[str, Any]:
        self.load_pending()
        return self._commands

    # -- loading -----------------------------------------------------------------------------------
    def load_entry_points(
        self, allow: Iterable[str] | None = None, *, defer_third_party: bool = False
    ) -> PluginHost:
        """Import and register installed plugins, each in isolation from the others: rewardkit's own now,
        third-party ones now too, or (`defer_third_party`) the first time anything needs them.

        `allow` (default: the REWARDKIT_PLUGINS variable) names the entry points to load, in both tiers; the
        others are listed as disabled.
        """
        allowed = set(allow) if allow is not None else _allowed_from_env()
        bundled = _rewardkit_entry_points()
        if bundled is None:  # rewardkit's own metadata is missing (a source tree on sys.path): scan all
            for ep, dist in _bundled_first(md.entry_points(group=ENTRY_POINT_GROUP)):
                self._load(ep, dist, allowed)
            return self
        for ep, dist in _bundled_first(bundled):
            self._load(ep, dist, allowed)
        self._deferred, self._deferred_allow = True, allowed
        if not defer_third_party:
            self.load_pending()
        return self

    def load_pending(self) -> None:
        """Load the third-party tier now, if it is still waiting (once, whichever thread asks first)."""
        if not self._deferred:
            return
        with self._tier_lock:
            if not self._deferred:
                return
            if self._tier_loader == threading.get_ident():
                raise PluginError(
                    "a plugin looked up the plugin host while plugins were loading (at import or in a "
                    "register hook); look environments and rewards up in setup() or when called"
                )
            self._tier_loader = threading.get_ident()
            try:
                for ep, dist in _bundled_first(md.entry_points(group=ENTRY_POINT_GROUP)):
                    if dist[0] != "rewardkit":  # loaded as the first tier
                        self._load(ep, dist, self._deferred_allow)
            finally:
                self._deferred, self._tier_loader = False, None

    def resolve_all(self, plugin: str | None = None) -> None:
        """Import every entry registered by path now (of one plugin, or of all), so each bad path is in its
        plugin's errors: listings and the contract kit call this."""
        for registry in (self.environments, self.rewards, self.tools):
            for entry in registry.values():
                if plugin is None or entry.plugin == plugin:
                    with contextlib.suppress(PluginError):  # recorded in the plugin's errors
                        entry.ref.get()

    def _load(self, ep: md.EntryPoint, dist: tuple[str | None, str | None], allowed: set[str] | None) -> None:
        info = PluginInfo(ep.name, ep.value, *dist)
        if ep.name in self._plugins:
            info.errors.append(
                f"entry point name {ep.name!r} is already used by "
                f"{self._plugins[ep.name].origin}; it was not loaded"
            )
            self._plugins[f"{ep.name}@{info.distribution}"] = info
            return
        self._plugins[ep.name] = info
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
        self._plugins[name] = info
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
            if name in self._commands:
                owner = next(p for p in self._plugins.values() if name in p.commands)
                info.errors.append(f"command {name!r} is already added by {owner.origin}; rename it")
                continue
            self._commands[name] = command
            info.commands.append(name)

    # -- host-owned register callbacks ---------------------------------------------------------------
    def _env_registrar(self, info: PluginInfo) -> Callable[..., None]:
        def register(
            env_cls: type[Environment] | str, aliases: Iterable[str] = (), *, name: str | None = None
        ) -> None:
            if isinstance(env_cls, str):
                _check_path(env_cls, "register(path, name=...)")
                if not isinstance(name, str) or not name:
                    raise PluginError(f"register({env_cls!r}): give the environment's name, name='...'")
                ref = Registered(env_cls, f"environment {name!r}", info, partial(_checked_env, name=name))
            else:
                name = _checked_env(env_cls, name).name  # a `name` given beside a class must be its own
                ref = Registered(env_cls, f"environment {name!r}", info)
            aliases = tuple(aliases)
            for key in (name, *aliases):
                if self._taken("environment", self._environments, key, info):
                    continue
                self._environments[key] = EnvEntry(ref, info.name, aliases)
                info.environments.append(key)

        return register

    def _reward_registrar(self, info: PluginInfo) -> Callable[..., None]:
        def register(
            name: str,
            fn: Callable[..., Any] | str,
            reward_range: tuple[float, float] = (0.0, 1.0),
            description: str = "",
        ) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(f"reward names must be non-empty strings, got {name!r}")
            if isinstance(fn, str):
                _check_path(fn, f"reward {name!r}")
            elif not callable(fn):
                raise PluginError(f"reward {name!r}: {fn!r} is not callable")
            low, high = (float(x) for x in reward_range)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise PluginError(
                    f"reward {name!r}: reward_range must be finite (low, high), got {reward_range}"
                )
            if self._taken("reward", self._rewards, name, info):
                return
            ref = Registered(fn, f"reward {name!r}", info, _callable_check)
            self._rewards[name] = RewardSpec(name, ref, info.name, (low, high), description)
            info.rewards.append(name)

        return register

    def _sandbox_registrar(self, info: PluginInfo) -> Callable[..., None]:
        def register(name: str, factory: Callable[..., Any]) -> None:
            if not isinstance(name, str) or not name or not callable(factory):
                raise PluginError(f"register(name, factory) needs a name and a callable, got {name!r}")
            if self._taken("sandbox", self._sandboxes, name, info):
                return
            self._sandboxes[name] = SandboxEntry(name, factory, info.name)
            info.sandboxes.append(name)

        return register

    def _tool_registrar(self, info: PluginInfo) -> Callable[..., None]:
        def register(name: str, fn: Callable[..., Any] | str, timeout: float | None = None) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(f"tool names must be non-empty strings, got {name!r}")

            def build(value: Any) -> Any:
                from rewardkit.episodes.tools import make_tool

                return make_tool(value, name=name, timeout=timeout)

            if isinstance(fn, str):
                _check_path(fn, f"tool {name!r}")
                ref = Registered(fn, f"tool {name!r}", info, build)
            else:
                ref = Registered(build(fn), f"tool {name!r}", info)  # schema problems fail the registration
            if self._taken("tool", self._tools, name, info):
                return
            self._tools[name] = ToolEntry(ref, info.name)
            info.tools.append(name)

        return register

    def _taken(self, kind: str, registry: dict[str, Any], name: str, info: PluginInfo) -> bool:
        """True (and an error of `info`'s plugin) when an earlier plugin registered `name`."""
        if name not in registry:
            return False
        owner = self._plugins[registry[name].plugin].origin
        info.errors.append(
            f"{kind} {name!r} is already registered by {owner}; rename it or uninstall one of the two"
        )
        return True

    # -- lookups (the bundled tier first: the third-party one loads only for a name it lacks) ---------
    def environment(self, name: str) -> EnvEntry:
        return self._find("environment", self._environments, name)

    def reward(self, name: str) -> RewardSpec:
        return self._find("reward", self._rewards, name)

    def sandbox(self, name: str) -> SandboxEntry:
        return self._find("sandbox", self._sandboxes, name)

    def tool(self, name: str) -> Any:
        """The registered rewardkit.episodes.Tool named `name`."""
        return self._find("tool", self._tools, name).tool

    def command(self, name: str) -> Any | None:
        """The plugin command named `name`, or None; a bundled command never loads the third-party tier."""
        if name not in self._commands:
            self.load_pending()
        return self._commands.get(name)

    def plugin_of(self, env_name: str) -> PluginInfo:
        return self._plugins[self.environment(env_name).plugin]

    def load_errors(self) -> list[str]:
        self.resolve_all()
        return [f"{info.origin}: {error}" for info in self._plugins.values() for error in info.errors]

    def _find(self, kind: str, registry: dict[str, T], name: str) -> T:
        if name not in registry:
            self.load_pending()
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


def _checked_env(env_cls: Any, name: str | None = None) -> type[Environment]:
    """`env_cls` when it is a usable Environment class (named `name`, when given); else a PluginError."""
    problem = _env_class_problem(env_cls)
    if problem is None and name is not None and env_cls.name != name:
        problem = (
            f"{env_cls.__qualname__}.name is {env_cls.name!r}, not the registered name {name!r}; "
            "register it under its own name or rename the class's `name`"
        )
    if problem:
        raise PluginError(problem)
    return env_cls


def _callable_check(fn: Any) -> Any:
    if not callable(fn):
        raise PluginError(f"{fn!r} is not callable; point the path at the reward function")
    return fn


def _check_path(path: str, what: str) -> None:
    if not IMPORT_PATH.match(path):
        raise PluginError(f"{what}: {path!r} is not an import path; write it as 'package.module:attribute'")


def _rewardkit_entry_points() -> list[md.EntryPoint] | None:
    """rewardkit's own entry points, from its own metadata (no scan of every installed distribution);
    None when rewardkit's distribution cannot be found."""
    try:
        dist = md.distribution("rewardkit")
    except md.PackageNotFoundError:
        return None
    return list(dist.entry_points.select(group=ENTRY_POINT_GROUP))


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
    """The process-wide host: rewardkit's own plugins loaded on the first call, third-party ones the first
    time anything needs them (see the module docstring)."""
    return PluginHost().load_entry_points(defer_third_party=True)


def reset_host(host: PluginHost | None = None) -> None:
    """Install `host` as the process-wide one, or (None) forget it so the next use loads the plugins afresh
    (tests; after installing a plugin at run time)."""
    get_host.reset()
    if host is not None:
        get_host.set(host)
