"""The openai SDK's `openai.types` packages, each run on first use instead of at `import openai`.

`import openai` executes `openai/types/__init__.py`, which imports every model of the API (about
400 modules of pydantic classes: responses, evals, graders, realtime, ...), and `openai.lib` pulls
in `openai.types.responses` whole the same way. hermes needs the chat-completion classes and the
client. Building the rest was ~60 % of `import openai` (0.8 s of CPU of 1.6 s on the 2-core VM),
paid by every `hermes -p` before its first request.

While this finder is installed, a package under `openai.types` gets its `__path__` at once (so its
submodules import normally, each with its own real code) and runs its `__init__.py` the first time
a name is looked up on it that is not already there (`openai.types.Batch`, `from openai.types
import X`). Modules are the SDK's own, unchanged; only when a package's index runs moves.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from types import ModuleType
from typing import Any

PACKAGE = "openai.types"


class _DeferredInit(importlib.abc.Loader):
    """Runs the real loader's `exec_module` when the package is first asked for a missing name."""

    def __init__(self, real: importlib.abc.Loader) -> None:
        self.real = real
        self.lock = threading.RLock()  # two threads asking at once: one runs it, the other waits

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object, with __path__ and __spec__ set by the import system

    def exec_module(self, module: ModuleType) -> None:
        real, lock = self.real, self.lock

        def __getattr__(name: str) -> Any:
            with lock:
                if module.__dict__.get("__getattr__") is __getattr__:
                    del module.__dict__["__getattr__"]
                    real.exec_module(module)
            try:
                return module.__dict__[name]
            except KeyError:
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}") from None

        module.__getattr__ = __getattr__  # type: ignore[method-assign]


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, package: str = PACKAGE, subpackages: bool = True) -> None:
        self.package, self.subpackages = package, subpackages

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.package and not (self.subpackages and fullname.startswith(self.package + ".")):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return spec  # a plain module (or not found): imported as usual
        spec.loader = _DeferredInit(spec.loader)
        return spec


def install() -> None:
    """Before the first `import openai` of the process; a no-op once the SDK's types are loaded."""
    if PACKAGE not in sys.modules and not any(isinstance(f, _Finder) and f.package == PACKAGE for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def defer_package(package: str) -> None:
    """The same for another top-level package (its own `__init__.py` only, not its subpackages'):
    `import package` succeeds at once and the package's index runs at the first name looked up on it.
    For a library that another imports at its top but uses only on some paths (atroposlib: wandb)."""
    if package not in sys.modules and not any(isinstance(f, _Finder) and f.package == package for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder(package, subpackages=False))
