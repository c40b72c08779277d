"""Find and load platform specs: shipped ones (package data `relay.plugin_specs`, read with
importlib.resources) and a store's own spec file; validated specs are cached per (name, file).

A store's own file registers its platform name, so a later `load_spec(name)` finds it. Every
problem is reported with the file and its key path (SpecInvalid).
"""

from __future__ import annotations

import threading
import tomllib
from importlib import resources
from pathlib import Path

from relay.errors import SpecError
from relay.specs.model import PlatformSpec, SpecInvalid, StoreLike
from relay.specs.parse import parse_spec

SPEC_PACKAGE = "relay.plugin_specs"


def available_platforms() -> tuple[str, ...]:
    """Return the names of the shipped specs."""
    files = resources.files(SPEC_PACKAGE).iterdir()
    return tuple(sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml")))


_lock = threading.Lock()
_cache: dict[tuple[str, str], PlatformSpec] = {}
_own_files: dict[str, str] = {}  # platform name → a store's own spec file that defines it


def clear_spec_cache() -> None:
    """Forget loaded specs and store spec files (tests, or a reload after editing a spec)."""
    with _lock:
        _cache.clear()
        _own_files.clear()


def load_spec(store: StoreLike | str, spec_path: str | None = None) -> PlatformSpec:
    """Return the validated spec for a store (or a platform name and an optional spec file).

    A spec file of the store's own is read from `spec_path` (relative paths from the working
    directory); a platform name alone finds a shipped spec, or the own file a store registered
    under that name; a store's `spec_platform` names the shipped spec it reads instead of its
    platform's. Results are cached. raises SpecError naming the file and key paths.
    """
    if isinstance(store, str):
        platform, path = store, spec_path
    else:
        platform, path = store.spec_platform or store.platform, store.spec
    with _lock:
        if path is None:
            path = _own_files.get(platform)
        resolved = str(Path(path).expanduser().resolve()) if path else ""
        cached = _cache.get((platform, resolved))
    if cached is not None:
        return cached
    spec = _read_spec(platform, resolved)
    with _lock:
        if resolved:
            _own_files.setdefault(platform, resolved)
        return _cache.setdefault((platform, resolved), spec)


def _read_spec(platform: str, path: str) -> PlatformSpec:
    if path:
        source = path
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecInvalid(
                source, [("", f"cannot read the spec file: {exc.strerror}")]
            ) from None
    else:
        if platform not in available_platforms():
            raise SpecError(f"no plugin spec named {platform!r}")
        source = f"plugin_specs/{platform}.toml"
        resource = resources.files(SPEC_PACKAGE).joinpath(f"{platform}.toml")
        text = resource.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecInvalid(source, [("", f"not valid TOML: {exc}")]) from None
    spec = parse_spec(data, source)
    if spec.name != platform:
        raise SpecInvalid(
            source, [("platform.name", f"is {spec.name!r}, the store says {platform!r}")]
        )
    return spec


def check_platform(platform: str, spec_path: str | None) -> list[tuple[str, str]]:
    """Return (config key, message) problems with a store's platform and spec; [] when fine.

    A store's own spec file registers its platform name, so a later `load_spec(platform)` finds it.
    """
    if spec_path is None:
        if platform not in available_platforms() and platform not in _own_files:
            shipped = ", ".join(available_platforms())
            return [("platform", f"unknown platform {platform!r}; shipped: {shipped}")]
    elif platform in available_platforms():
        return [("platform", f"{platform!r} is a shipped spec; name your own spec differently")]
    else:
        resolved = str(Path(spec_path).expanduser().resolve())
        with _lock:
            other = _own_files.get(platform)
        if other is not None and other != resolved:
            return [("platform", f"{platform!r} already names the spec file {other}")]
    try:
        load_spec(platform, spec_path)
    except SpecInvalid as exc:
        key = "spec" if spec_path else "platform"
        return [
            (key, f"{exc.source}: {k}: {m}" if k else f"{exc.source}: {m}") for k, m in exc.problems
        ]
    except SpecError as exc:
        return [("spec" if spec_path else "platform", exc.message)]
    return []
