# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The DNS-01 providers by name: the one ``dns_provider`` check, typed settings, and the argument spec.

A provider's settings dataclass (``SETTINGS``, in the provider's own file) holds the defaults;
``acme_dns01``'s argument spec is :func:`argument_spec` and a unit test compares its
DOCUMENTATION with it, so docs, argument spec and engine cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import typing as t

from .._errors import InputError
from .alidns import AlidnsProvider
from .base import DNSProvider
from .rfc2136 import Rfc2136Provider

PROVIDERS: dict[str, type[DNSProvider]] = {cls.NAME: cls for cls in (AlidnsProvider, Rfc2136Provider)}
PROVIDER_NAMES: tuple[str, ...] = tuple(PROVIDERS)


def provider_class(name: t.Any) -> type[DNSProvider]:
    """The provider class registered as *name*; the one place an unknown ``dns_provider`` is refused."""
    cls = PROVIDERS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InputError("dns_provider must be one of %s (got %r)" % (", ".join(sorted(PROVIDERS)), name))
    return cls


def settings_from(name: str, values: t.Mapping[str, t.Any] | None) -> t.Any:
    """Build provider *name*'s settings dataclass from plain *values* (module options, agent config).

    A missing or None value takes the field's default; an unknown key or a value of the wrong
    type is an :class:`InputError` naming ``<provider>.<option>``.  The provider itself checks
    required values and choices when it is created.
    """
    cls = provider_class(name)
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls.SETTINGS)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InputError("%s has no option %s; known options: %s"
                         % (name, ", ".join(unknown), ", ".join(fields)))
    kwargs: dict[str, t.Any] = {}
    for key, field in fields.items():
        value = values.get(key)
        if value is None:
            continue
        if field.metadata["type"] == "int":
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise InputError("%s.%s must be an integer (got %r)" % (name, key, value)) from None
        else:
            value = str(value)
        kwargs[key] = value
    return cls.SETTINGS(**kwargs)


def make_provider(name: t.Any, settings: t.Any, deadline: float | None = None) -> DNSProvider:
    """The provider *name* with *settings* (its dataclass, or a mapping of its options); no network yet."""
    cls = provider_class(name)
    if not isinstance(settings, cls.SETTINGS):
        settings = settings_from(name, settings)
    return cls(settings, deadline=deadline)


def libraries(name: t.Any) -> tuple[str, ...]:
    """The :mod:`.._deps` features provider *name* needs."""
    return provider_class(name).LIBRARIES


def provider_options(name: str) -> dict[str, dict[str, t.Any]]:
    """The argument-spec suboptions of provider *name*, generated from its settings dataclass."""
    spec: dict[str, dict[str, t.Any]] = {}
    for field in dataclasses.fields(provider_class(name).SETTINGS):
        meta = field.metadata
        entry: dict[str, t.Any] = {"type": meta["type"]}
        if meta["required"]:
            entry["required"] = True
        elif field.default is not None:
            entry["default"] = field.default
        if meta["choices"]:
            entry["choices"] = list(meta["choices"])
        if meta["no_log"] is not None:
            entry["no_log"] = meta["no_log"]
        spec[field.name] = entry
    return spec


def argument_spec() -> dict[str, dict[str, t.Any]]:
    """``dns_provider`` and one dict option per provider, as ``acme_dns01`` takes them."""
    spec: dict[str, dict[str, t.Any]] = {
        "dns_provider": {"type": "str", "required": True, "choices": list(PROVIDER_NAMES)},
    }
    for name in PROVIDER_NAMES:
        spec[name] = {"type": "dict", "options": provider_options(name)}
    return spec
