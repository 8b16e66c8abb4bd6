"""Modal sandbox profiles: what image, resources, secrets and warm-pool size each kind of task gets.

Sources, later ones winning field by field:
  1. built-in defaults, plus TERMINAL_MODAL_IMAGE / TERMINAL_MODAL_APP for the `default` profile;
  2. `modal_profiles.yaml` in HERMES_HOME (or the file named by TERMINAL_MODAL_PROFILES_FILE):
         default: {image: python:3.11-slim, min_pool: 1, max_pool: 8}
         gpu:     {image: nvcr.io/nvidia/pytorch:24.01-py3, gpu: A10G, secrets: [hf-token]}
     (a top-level `profiles:` mapping is accepted too);
  3. TERMINAL_MODAL_PROFILE_<NAME>_<FIELD> variables, e.g. TERMINAL_MODAL_PROFILE_GPU_MAX_POOL=2.
TERMINAL_MODAL_PROFILE names the profile used when the terminal tool gets no `profile` argument.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

from tools.environments.settings import terminal_settings

if TYPE_CHECKING:
    from agent.settings import TerminalSettings

DEFAULT_PROFILE = "default"
_PREFIX = "TERMINAL_MODAL_PROFILE_"


@dataclass(frozen=True)
class ModalProfile:
    name: str
    app_name: str = "hermes-agent"
    image: str = "python:3.11-slim"
    min_pool: int = 0  # warm sandboxes kept ready beyond those in use
    max_pool: int = 4  # sandboxes of this profile at once, in use and warm
    idle_timeout: float = 300.0  # a warm sandbox idle this long is terminated (scale-down to min_pool)
    sandbox_timeout: int = 3600  # Modal's maximum lifetime for each sandbox
    acquire_timeout: float = 300.0  # how long a task waits for a free slot when the pool is full
    cpu: float | None = None
    memory: int | None = None  # MiB
    gpu: str | None = None
    workdir: str | None = None
    secrets: tuple[str, ...] = field(default_factory=tuple)  # names of Modal secrets


_INTS = {"min_pool", "max_pool", "sandbox_timeout", "memory"}
_FLOATS = {"idle_timeout", "acquire_timeout", "cpu"}
FIELD_NAMES = {f.name for f in fields(ModalProfile)} - {"name"}


def _unavailable(message: str) -> Exception:
    from tools.environments.manager import BackendUnavailable

    return BackendUnavailable(message)


def _coerce(profile: str, key: str, value: object, source: str) -> object:
    if key not in FIELD_NAMES:
        raise _unavailable(f"modal profile '{profile}' in {source}: unknown setting '{key}' "
                           f"(known: {', '.join(sorted(FIELD_NAMES))})")
    try:
        if value is None or value == "":
            return None if key in {"cpu", "memory", "gpu", "workdir"} else ModalProfile.__dataclass_fields__[key].default
        if key in _INTS:
            return int(value)
        if key in _FLOATS:
            return float(value)
    except (TypeError, ValueError):
        raise _unavailable(f"modal profile '{profile}' in {source}: {key}={value!r} is not a number") from None
    if key == "secrets":
        items = value if isinstance(value, list | tuple) else str(value).replace(" ", ",").split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())
    return str(value)


def profiles_file(settings: TerminalSettings | None = None) -> str:
    settings = terminal_settings(settings)
    if settings.modal_profiles_file:
        return os.path.expanduser(settings.modal_profiles_file)
    return os.path.join(settings.home, "modal_profiles.yaml")


def _from_file(path: str) -> dict[str, dict]:
    if not os.path.isfile(path):
        return {}
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise _unavailable(f"cannot read {path}: {' '.join(str(exc).split())}") from None
    if isinstance(data, dict) and isinstance(data.get("profiles"), dict):
        data = data["profiles"]
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise _unavailable(f"{path}: expected a mapping of profile name -> settings")
    return {str(name).lower(): values for name, values in data.items()}


def load_profiles(settings: TerminalSettings | None = None) -> dict[str, ModalProfile]:
    """Profiles from the profiles file, terminal.modal_image/modal_app and TERMINAL_MODAL_PROFILE_* variables."""
    settings = terminal_settings(settings)
    path = profiles_file(settings)
    raw: dict[str, dict[str, tuple[object, str]]] = {DEFAULT_PROFILE: {}}
    for value, key, name in ((settings.modal_image, "image", "TERMINAL_MODAL_IMAGE"),
                             (settings.modal_app, "app_name", "TERMINAL_MODAL_APP")):
        if value and value.strip():
            raw[DEFAULT_PROFILE][key] = (value.strip(), name)
    for name, values in _from_file(path).items():
        for key, value in values.items():
            raw.setdefault(name, {})[str(key)] = (value, path)
    known = sorted(FIELD_NAMES, key=len, reverse=True)  # MAX_POOL before POOL-like prefixes
    for env_name, value in settings.environ.items():  # per-profile variables: open-ended names
        if not env_name.startswith(_PREFIX):
            continue
        rest = env_name[len(_PREFIX):].lower()
        key = next((k for k in known if rest.endswith("_" + k)), None)
        if key is None or not rest[: -len(key) - 1]:
            raise _unavailable(f"{env_name}: expected TERMINAL_MODAL_PROFILE_<NAME>_<SETTING> with a setting "
                               f"among {', '.join(sorted(k.upper() for k in FIELD_NAMES))}")
        raw.setdefault(rest[: -len(key) - 1], {})[key] = (value, env_name)
    profiles = {}
    for name, values in raw.items():
        profile = ModalProfile(name=name)
        coerced = {key: _coerce(name, key, value, source) for key, (value, source) in values.items()}
        profile = replace(profile, **coerced)
        if profile.max_pool < 1 or profile.min_pool < 0 or profile.min_pool > profile.max_pool:
            raise _unavailable(f"modal profile '{name}': need 0 <= min_pool <= max_pool and max_pool >= 1")
        profiles[name] = profile
    return profiles


def resolve_profile(name: str | None, settings: TerminalSettings | None = None) -> ModalProfile:
    settings = terminal_settings(settings)
    profiles = load_profiles(settings)
    chosen = (name or (settings.modal_profile or "").strip() or DEFAULT_PROFILE).lower()
    if chosen not in profiles:
        raise _unavailable(f"unknown modal profile '{chosen}'; known: {', '.join(sorted(profiles))} "
                           f"(define it in {profiles_file(settings)} or with {_PREFIX}{chosen.upper()}_IMAGE)")
    return profiles[chosen]
