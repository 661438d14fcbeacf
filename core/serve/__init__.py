"""`rewardkit serve`: an HTTP reward server over installed environments (docs/serve.md).

Importing this package imports FastAPI; `rewardkit` itself never imports it.
"""

from rewardkit.serve.app import create_app
from rewardkit.serve.config import ServeConfig, ServedEnvironment, ServerSettings, load_serve_config
from rewardkit.serve.registry import Served, build_served

__all__ = [
    "ServeConfig",
    "Served",
    "ServedEnvironment",
    "ServerSettings",
    "build_served",
    "create_app",
    "load_serve_config",
]
