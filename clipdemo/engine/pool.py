"""The models one server offers: loaded on first use, at most `max_models` in memory, least recently used
dropped first. The process-wide pool behind `get_engine()` is the one `app.main` configures."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence

from ..errors import InputError
from ..limits import MAX_MODELS
from ..registry import DEFAULT_MODEL, bundled_models
from .core import ClipEngine
from .loading import display_source, load_with_fallback

log = logging.getLogger("clipdemo.engine")


class ModelPool:
    """Names a server offers -> engines, loaded on demand and bounded in number.

    Args:
        models: the models named at launch, the first being the default; none: DEFAULT_MODEL, which
            alone falls back to the bundled model when it cannot be loaded.
        device, backend: how every model here is loaded (engine.loading.load).
        max_models: how many engines stay in memory at once (>= 1).
    The bundled models are always offered too. A client can only ever pick one of `offered()`: a name it
    sends is never resolved as a hub id or a path.
    """

    def __init__(self, models: Sequence[str] | None = None, device: str | None = None, backend: str = "torch",
                 max_models: int = MAX_MODELS):
        self._explicit = [m for m in (models or []) if m]
        # offered under a name the page may show (a directory's base name, never a server path)
        self._sources = {display_source(m): m for m in self._explicit}
        self.default = display_source(self._explicit[0]) if self._explicit else DEFAULT_MODEL
        self._offered = list(dict.fromkeys([*(self._sources or [DEFAULT_MODEL]), *bundled_models()]))
        self.device, self.backend, self.max_models = device, backend, max(1, int(max_models))
        self._loaded: OrderedDict[str, ClipEngine] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._fell_back: dict[str, str] = {}  # DEFAULT_MODEL -> the bundled model that answers in its place

    def offered(self) -> list[str]:
        """The names a client may pick, the default first."""
        return list(self._offered)

    def loaded(self) -> list[str]:
        """Names whose engines are in memory now, least recently used first."""
        with self._lock:
            return list(self._loaded)

    def check(self, name: str | None) -> str:
        """`name` if this server offers it (None or "" is the default); else InputError listing the offer."""
        name = (name or "").strip() or self.default
        name = self._fell_back.get(name, name)
        if name not in self._offered:
            raise InputError(f"Model {name!r} is not offered by this server. Pick one of: "
                             f"{', '.join(self._offered)}.")
        return name

    def get(self, name: str | None = None) -> ClipEngine:
        """The engine for `name` (default: the server's default), loading it on first use.

        One load per name at a time, however many requests ask at once; loading one model does not block
        requests to the others.
        """
        name = self.check(name)
        with self._lock:
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return self._loaded[name]
            gate = self._loading.setdefault(name, threading.Lock())
        with gate:
            with self._lock:
                name = self._fell_back.get(name, name)  # another request's load of the default fell back
                if name in self._loaded:
                    self._loaded.move_to_end(name)
                    return self._loaded[name]
            source = self._sources.get(name, name)
            engine = load_with_fallback(None if name == DEFAULT_MODEL and not self._explicit else source,
                                        self.device, self.backend)
            if engine.info.name != name and engine.info.name in self._offered:
                # the default could not be loaded here and a bundled model answers: it is offered under its
                # own name from now on (the picker shows what answers), and the default's name means it
                with self._lock:
                    self._fell_back[name] = engine.info.name
                    self._offered.remove(name)
                    self._offered.insert(0, self._offered.pop(self._offered.index(engine.info.name)))
                    self.default = engine.info.name
                name = engine.info.name
            self.install(name, engine)
            return engine

    def install(self, name: str, engine: ClipEngine) -> None:
        """Put `engine` in memory as `name` (offered from now on), dropping the least recently used beyond
        max_models."""
        with self._lock:
            if name not in self._offered:
                self._offered.append(name)
            self._loaded[name] = engine
            self._loaded.move_to_end(name)
            while len(self._loaded) > self.max_models:
                dropped, _ = self._loaded.popitem(last=False)
                log.info("dropped model %s from memory (at most %d loaded)", dropped, self.max_models)

    def engines(self) -> dict[str, ClipEngine]:
        with self._lock:
            return dict(self._loaded)


# -- the process-wide pool ---------------------------------------------------------------------------

_pool = ModelPool()
_pool_lock = threading.Lock()


def configure(model: str | Sequence[str] | None = None, device: str | None = None, backend: str | None = None,
              max_models: int = MAX_MODELS) -> ModelPool:
    """Choose what `get_engine()` serves (one model name or several, the first the default); drops what
    was loaded. Returns the new pool."""
    global _pool
    models = [model] if isinstance(model, str) else list(model or [])
    with _pool_lock:
        _pool = ModelPool(models, device, backend or "torch", max_models)
        return _pool


def get_pool() -> ModelPool:
    """The process-wide pool."""
    return _pool


def get_engine(name: str | None = None) -> ClipEngine:
    """The engine for an offered `name` (default: the server's default), loaded on first use (thread-safe)."""
    return _pool.get(name)


def set_engine(engine: ClipEngine | None) -> None:
    """Serve `engine` as the default model (tests, or a model trained in-process); None drops the loaded
    models so the next call loads again."""
    global _pool
    with _pool_lock:
        if engine is None:
            _pool = ModelPool(_pool._explicit, _pool.device, _pool.backend, _pool.max_models)
        else:
            _pool.install(_pool.default, engine)
