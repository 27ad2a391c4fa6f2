"""The model zoo, in one import: ``from roofline.models import zoo``.

Importing this module registers every entry (:mod:`roofline.models.entries`) and gathers the
names callers use: the registry (:func:`get`, :func:`lookup`, :func:`names`, :func:`entries`,
:func:`register`), model specs (:func:`resolve`: a zoo name or alias, a timm name or
``path/to/file.py:factory``), building (forms, input checks) and published facts
(:class:`Published`, :class:`Cited`, :class:`Source`). Each lives in its own module:

- :mod:`roofline.models.published`  published figures with their sources (data classes);
- :mod:`roofline.models.registry`   entries, aliases, glob listing, validation;
- :mod:`roofline.models.entries`    the entries themselves (data);
- :mod:`roofline.models.build`      building on meta, forms, input checks;
- :mod:`roofline.models.resolve`    model specs -> :class:`ModelSource`.
"""

from __future__ import annotations

from roofline.models import entries as _entries  # noqa: F401  (registers the entries)
from roofline.models.build import (FORMS, check_batch, check_form, check_resolution,
                                   reparameterizable)
from roofline.models.entries import EFFNET_TABLE2, MNV3_TABLE3, MNV4_TABLE6, MNV4_TEXT
from roofline.models.published import FIGURES, Cited, Published, Source, cite
from roofline.models.registry import (FAMILIES, ZooEntry, ZooError, entries, get, lookup,
                                      matching, names, register, unregister, validate)
from roofline.models.resolve import ModelSource, resolve

__all__ = ["FORMS", "FIGURES", "FAMILIES", "ZooError", "ZooEntry", "Source", "Cited", "cite",
           "Published", "ModelSource", "MNV4_TABLE6", "MNV4_TEXT", "MNV3_TABLE3",
           "EFFNET_TABLE2", "validate", "register", "unregister", "names", "entries",
           "matching", "get", "lookup", "resolve", "check_form", "check_resolution",
           "check_batch", "reparameterizable"]
