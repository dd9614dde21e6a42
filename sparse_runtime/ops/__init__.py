"""Operator implementations, one per file; importing this package registers all of them."""
import importlib
import pkgutil

from .registry import OpContext, OpSpec, all_specs, compile_node, lookup, register

# Import every op module so its @register decorators run.
for _mod in pkgutil.iter_modules(__path__):
    if _mod.name not in ("registry",) and not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["OpContext", "OpSpec", "all_specs", "compile_node", "lookup", "register"]
