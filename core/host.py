"""The plugin host: discovers entry points, registers what each plugin hands over, records failures.

One broken plugin never stops the others: its import error, typo'd hook, name clash or API mismatch is
recorded against its distribution and entry point, and shown by `rewardkit plugins`.

The process-wide host (`get_host()`) finds the entry points at once but imports plugins when they are
needed: a lookup by name loads plugins in the fixed order until the name is registered, and reading a
whole registry (`plugins`, `environments`, ...) loads them all. The first plugin in that order to
register a name owns it either way, so a lookup answers what a full load would; `rewardkit score ENV`
just skips importing the plugins it does not use.
"""

from __future__ import annotations

import importlib.metadata as md
import inspect
import math
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from rewardkit import hookspecs
from rewardkit.environment import EnvConfig, Environment
from rewardkit.errors import PluginError, UnknownNameError

ENTRY_POINT_GROUP = "rewardkit"
ALLOW_ENV_VAR = "REWARDKIT_PLUGINS"


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
        self._plugins: dict[str, PluginInfo] = {}
        self._environments: dict[str, EnvEntry] = {}
        self._rewards: dict[str, RewardSpec] = {}
        self._sandboxes: dict[str, SandboxEntry] = {}
        self._tools: dict[str, Any] = {}  # name -> rewardkit.episodes.Tool
        self._pending: list[md.EntryPoint] = []  # found, not loaded yet; in load order
        self._allowed: set[str] | None = None
        # Reentrant: a plugin's import or hook may itself look something up.
        self._loading = threading.RLock()

    # -- registries (reading one loads every pending plugin) ------------------------------------------
    @property
    def plugins(self) -> dict[str, PluginInfo]:
        return self._loaded(self._plugins)

    @property
    def environments(self) -> dict[str, EnvEntry]:
        return self._loaded(self._environments)

    @property
    def rewards(self) -> dict[str, RewardSpec]:
        return self._loaded(self._rewards)

    @property
    def sandboxes(self) -> dict[str, SandboxEntry]:
        return self._loaded(self._sandboxes)

    @property
    def tools(self) -> dict[str, Any]:
        return self._loaded(self._tools)

    def _loaded(self, registry: dict[str, Any]) -> dict[str, Any]:
        with self._loading:
            while self._load_next():
                pass
        return registry

    # -- loading -----------------------------------------------------------------------------------
    def load_entry_points(self, allow: Iterable[str] | None = None) -> PluginHost:
        """Find and load every installed plugin now."""
        self.discover_entry_points(allow)
        self._loaded(self._plugins)
        return self

    def discover_entry_points(self, allow: Iterable[str] | None = None) -> PluginHost:
        """Find the installed plugins; each is loaded when a lookup or a registry read needs it."""
        with self._loading:
            self._allowed = set(allow) if allow is not None else _allowed_from_env()
            eps = sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=_bundled_first)
            self._pending.extend(eps)
        return self

    def _load_next(self) -> bool:
        """Load the next pending plugin (the caller holds `_loading`). False when none is left."""
        if not self._pending:
            return False
        ep = self._pending.pop(0)
        info = PluginInfo(ep.name, ep.value, *_dist_of(ep))
        if ep.name in self._plugins:
            info.errors.append(
                f"entry point name {ep.name!r} is already used by "
                f"{self._plugins[ep.name].origin}; it was not loaded"
            )
            self._plugins[f"{ep.name}@{info.distribution}"] = info
            return True
        self._plugins[ep.name] = info
        if self._allowed is not None and ep.name not in self._allowed:
            info.disabled = True
            return True
        try:
            plugin = ep.load()
        except Exception as error:
            info.errors.append(f"import failed: {type(error).__name__}: {error}")
            return True
        self._register(info, plugin)
        return True

    def add_plugin(self, name: str, plugin: object, distribution: str | None = None) -> PluginInfo:
        """Register an in-process plugin object (tests, notebooks). Same checks as entry points."""
        module = getattr(plugin, "__name__", type(plugin).__name__)
        info = PluginInfo(name, module, distribution)
        with self._loading:
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

    def _call(self, info: PluginInfo, plugin: object, hook_name: str, **kwargs: Any) -> None:
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            if impl.plugin is not plugin:
                continue
            try:
                impl.function(**{name: kwargs[name] for name in impl.argnames})
            except Exception as error:
                info.errors.append(f"{hook_name} raised {type(error).__name__}: {error}")

    # -- host-owned register callbacks ---------------------------------------------------------------
    def _env_registrar(self, info: PluginInfo) -> Callable[..., None]:
        def register(env_cls: type[Environment], aliases: Iterable[str] = ()) -> None:
            problem = _env_class_problem(env_cls)
            if problem:
                raise PluginError(problem)
            aliases = tuple(aliases)
            for name in (env_cls.name, *aliases):
                if name in self._environments:
                    owner = self._plugins[self._environments[name].plugin].origin
                    info.errors.append(
                        f"environment {name!r} is already registered by {owner}; "
                        "rename it or uninstall one of the two"
                    )
                    continue
                self._environments[name] = EnvEntry(env_cls, info.name, aliases)
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
            if name in self._rewards:
                owner = self._plugins[self._rewards[name].plugin].origin
                info.errors.append(f"reward {name!r} is already registered by {owner}; rename it")
                return
            doc = description or (inspect.getdoc(fn) or "").split("\n")[0]
            self._rewards[name] = RewardSpec(name, fn, info.name, (low, high), doc)
            info.rewards.append(name)

        return register

    def _sandbox_registrar(self, info: PluginInfo) -> Callable[..., None]:
        def register(name: str, factory: Callable[..., Any]) -> None:
            if not isinstance(name, str) or not name or not callable(factory):
                raise PluginError(f"register(name, factory) needs a name and a callable, got {name!r}")
            if name in self._sandboxes:
                owner = self._plugins[self._sandboxes[name].plugin].origin
                info.errors.append(f"sandbox {name!r} is already registered by {owner}; rename it")
                return
            self._sandboxes[name] = SandboxEntry(name, factory, info.name)
            info.sandboxes.append(name)

        return register

    def _tool_registrar(self, info: PluginInfo) -> Callable[..., None]:
        def register(name: str, fn: Callable[..., Any], timeout: float | None = None) -> None:
            from rewardkit.episodes.tools import make_tool

            if not isinstance(name, str) or not name:
                raise PluginError(f"tool names must be non-empty strings, got {name!r}")
            built = make_tool(fn, name=name, timeout=timeout)  # schema problems fail the registration
            if name in self._tools:
                owner = self._plugins[self._tools[name].plugin].origin
                info.errors.append(f"tool {name!r} is already registered by {owner}; rename it")
                return
            self._tools[name] = ToolEntry(built, info.name)
            info.tools.append(name)

        return register

    def add_commands(self, cli: Any) -> None:
        """Let each plugin add subcommands to the click group; record which ones each added."""
        for info in list(self.plugins.values()):
            plugin = self.pm.get_plugin(info.name)
            if plugin is None:
                continue
            before = set(cli.commands)
            self._call(info, plugin, "register_commands", cli=cli)
            info.commands.extend(sorted(set(cli.commands) - before))

    # -- lookups (load plugins in order until the name is registered) ---------------------------------
    def environment(self, name: str) -> EnvEntry:
        return self._lookup("environment", self._environments, name)

    def reward(self, name: str) -> RewardSpec:
        return self._lookup("reward", self._rewards, name)

    def sandbox(self, name: str) -> SandboxEntry:
        return self._lookup("sandbox", self._sandboxes, name)

    def tool(self, name: str) -> Any:
        """The registered rewardkit.episodes.Tool named `name`."""
        return self._lookup("tool", self._tools, name).tool

    def _lookup(self, kind: str, registry: dict[str, Any], name: str) -> Any:
        with self._loading:
            while name not in registry and self._load_next():
                pass
        if name not in registry:
            raise UnknownNameError(kind, name, registry) from None
        return registry[name]

    def plugin_of(self, env_name: str) -> PluginInfo:
        owner = self.environment(env_name).plugin  # loaded by the lookup
        return self._plugins[owner]

    def load_errors(self) -> list[str]:
        return [f"{info.origin}: {error}" for info in self.plugins.values() for error in info.errors]


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


def _dist_of(ep: md.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    return (dist.name, dist.version) if dist is not None else (None, None)


def _bundled_first(ep: md.EntryPoint) -> tuple[bool, bool, str]:
    """Load order: rewardkit's own plugins (so a third-party name clash never displaces one), the sandbox
    backends first among them (environments that run code look them up in their setup), then by name."""
    bundled = _dist_of(ep)[0] == "rewardkit"
    return (not bundled, not (bundled and ep.name == "sandbox"), ep.name)


_host: PluginHost | None = None
_host_lock = threading.Lock()


def get_host() -> PluginHost:
    """The process-wide host over the installed entry points; plugins load as lookups need them."""
    global _host
    with _host_lock:
        if _host is None:
            _host = PluginHost().discover_entry_points()
        return _host


def reset_host(host: PluginHost | None = None) -> None:
    """Forget the loaded plugins (tests; after installing a plugin at run time)."""
    global _host
    with _host_lock:
        _host = host
