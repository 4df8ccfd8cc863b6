"""PEP 562 lazy package attributes: a name is imported from its module on first use.

``__getattr__, __dir__ = lazy_attributes(__name__, {"name": ".module", ...}, globals())``
keeps ``import smsem`` (and its subpackages) instant: heavy libraries are imported only
when a function that needs them is first looked up; the value is then cached in the
package's namespace, so later look-ups skip ``__getattr__``.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping


def lazy_attributes(package: str, table: Mapping[str, str], namespace: dict[str, Any]
                    ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
