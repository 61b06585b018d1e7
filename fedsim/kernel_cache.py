"""fedsim's cached Numba kernels loaded without setting up Numba's compiler.

Before loading any cached kernel Numba refreshes its target context: it imports and
registers every typing and lowering implementation it has (numba.np.arraymath, linalg,
the typed containers, ...), ~0.15-0.3 s of CPU in the first kernel call of a run. A
cached kernel is machine code: loading it needs Numba's runtime (NRT, whose functions
the code calls) but none of those registries, which only compiling uses, and compiling
(a kernel not cached yet, or any other jitted function) still refreshes them itself
(numba.core.compiler.CompilerBase). So fedsim's own kernels load with the runtime alone;
the code run is the same, so are the results. Nor does a call to one of them first look
for Numba extensions (entry points, read from every installed distribution's metadata,
~10 ms): they take NumPy arrays and numbers, and compiling still loads the extensions.

Only fedsim's kernels (functions of modules `fedsim.*`), and only when this Numba has
what the shortcut uses; a load that fails the short way is retried Numba's way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["lean_kernel_loading"]

_installed = False


def _ours(owner: Any) -> bool:
    """A fedsim kernel's dispatcher or cache."""
    func = getattr(owner, "py_func", None) or getattr(owner, "_py_func", None)
    return getattr(func, "__module__", "").startswith("fedsim.")


def lean_kernel_loading() -> bool:
    """Load fedsim's cached kernels with Numba's runtime only, from now on in this
    process. False (nothing changed) when this Numba lacks what that needs."""
    global _installed
    if _installed:
        return True
    try:
        from numba.core.caching import Cache
        from numba.core.dispatcher import Dispatcher
        from numba.core.runtime.nrt import rtsys
    except ImportError:
        return False
    usual: Callable[..., Any] | None = getattr(Cache, "load_overload", None)
    guard = getattr(Cache, "_guard_against_spurious_io_errors", None)
    if usual is None or guard is None or not hasattr(Cache, "_load_overload"):
        return False
    usual_hook: Callable[..., Any] | None = getattr(
        Dispatcher, "_compilation_chain_init_hook", None
    )
    if usual_hook is None:
        return False

    def compilation_chain_init_hook(self: Any) -> None:
        if not _ours(self):
            usual_hook(self)

    def load_overload(self: Any, sig: Any, target_context: Any) -> Any:
        if not _ours(self):
            return usual(self, sig, target_context)
        try:
            rtsys.initialize(target_context)
            with self._guard_against_spurious_io_errors():
                return self._load_overload(sig, target_context)
        except Exception:  # something the registries provide after all: Numba's way
            return usual(self, sig, target_context)

    Cache.load_overload = load_overload
    Dispatcher._compilation_chain_init_hook = compilation_chain_init_hook
    _installed = True
    return True
