"""How a model is labelled in figures and tables: its display name, family and published
top-1 (zoo metadata where it exists, the name itself otherwise), and short tags that tell the
members of a family apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from roofline.models.zoo import lookup

__all__ = ["model_info", "member_tags"]


def model_info(name: str) -> dict[str, Any]:
    """Display name, family and published top-1 of a model (zoo metadata where it exists)."""
    entry = lookup(name)
    if entry is None:
        return {"name": name, "display": name, "family": name, "top1": None}
    return {"name": entry.name, "display": entry.display, "family": entry.family,
            "top1": entry.published.top1 if entry.published else None}


def member_tags(names: Sequence[str]) -> dict[str, str]:
    """Short labels that tell the members of a family apart: the display name without the
    family's common prefix ('MNv4-Conv-S', 'MNv4-Conv-M' -> 'S', 'M'; 'MobileNet-V2-1.5x',
    'MobileNet-V2' -> 'V2-1.5x', 'V2')."""
    infos = {n: model_info(n) for n in names}
    out = {}
    for fam in dict.fromkeys(i["family"] for i in infos.values()):
        members = [n for n in names if infos[n]["family"] == fam]
        if len(members) == 1:
            out[members[0]] = infos[members[0]]["display"]
            continue
        tokens = [infos[n]["display"].split("-") for n in members]
        k = 0
        while all(len(t) > k + 1 for t in tokens) and len({t[k] for t in tokens}) == 1:
            k += 1
        prefix = "-".join(tokens[0][:k])
        for n, t in zip(members, tokens):
            tag = "-".join(t[k:])
            if not tag or "-".join(t) == prefix:
                entry = lookup(n)
                longer = [a for a in (entry.aliases if entry else ())
                          if a.startswith(prefix + "-") and a != infos[n]["display"]]
                tag = min(longer, key=len)[len(prefix) + 1:] if longer else infos[n]["display"]
            out[n] = tag
    return out
