"""Every public name has a docstring: modules, the names in ``__all__``, and their public
methods and properties (an inherited docstring counts)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

PACKAGES = ("engineio_core", "socketio_core", "transports")


def _modules() -> list[str]:
    names: list[str] = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        names += [m.name for m in pkgutil.walk_packages(module.__path__, package + ".")
                  if not m.name.endswith("__main__")]
    return names


def _undocumented(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    missing = [] if module.__doc__ else [module_name]
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if getattr(obj, "__module__", module_name) != module_name:
            continue  # re-exported: checked where it is defined
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and not obj.__doc__:
            missing.append(f"{module_name}.{name}")
        if not inspect.isclass(obj):
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_"):
                continue
            function = value.fget if isinstance(value, property) else value
            if isinstance(function, staticmethod | classmethod):
                function = function.__func__
            if not inspect.isfunction(function) or function.__doc__:
                continue
            if any(getattr(getattr(base, attr, None), "__doc__", None)
                   for base in obj.__mro__[1:]):
                continue
            missing.append(f"{module_name}.{name}.{attr}")
    return missing


@pytest.mark.parametrize("module_name", _modules())
def test_public_names_have_docstrings(module_name: str) -> None:
    assert _undocumented(module_name) == []
