"""Live changes: a run's settings are its first RunConfig plus a list of (step, change).

A change names live settings (config.SETTINGS[...].live: learning rate, optimizer, clipping, batch size, how often
to validate and probe, probe samples) and the first step trained with them. The training loop reads the list before
every step, so a change made while a step runs applies from the next one; a link, a run file and the store carry
the list, and training a config with its list from step 0 gives the same numbers as the run that was changed live.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from rnnviz.engine.config import MAX_QUERY_TEXT, SETTINGS, ConfigError, RunConfig, json_depth

LIVE = tuple(name for name, s in SETTINGS.items() if s.live)
MAX_CHANGES = 100  # per run: a link carries them all
MAX_CHANGES_TEXT = 4 * MAX_QUERY_TEXT  # characters of the URL's list of changes


@dataclass(frozen=True)
class Change:
    step: int  # the first step trained with the new values
    values: Mapping[str, Any]  # live setting -> its new value (read-only)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    def to_list(self) -> list:
        return [self.step, dict(self.values)]

    def __reduce__(self):  # pickles (a Ray actor, a deepcopy) through plain values
        return Change, (self.step, dict(self.values))


Changes = tuple[Change, ...]


def check(config: RunConfig, values: Mapping[str, Any]) -> RunConfig:
    """The config with `values` applied, or ConfigError: a setting that is not live, or the setting's own message
    (its range, or the memory the new batch or probe size would need)."""
    if not isinstance(values, Mapping) or not values:
        raise ConfigError("a change must name at least one live setting and its new value")
    fixed = [name for name in values if name not in LIVE]
    if fixed:
        raise ConfigError(f"{', '.join(map(str, fixed))} cannot change while a run trains (it needs a new run); "
                          f"live settings: {', '.join(LIVE)}")
    return config.replace(**values)


def config_at(config: RunConfig, changes: Sequence[Change], step: int) -> RunConfig:
    """The settings step `step` trains with: the first config and every change from a step up to it."""
    values: dict[str, Any] = {}
    for change in changes:
        if change.step <= step:
            values.update(change.values)
    return config.replace(**values) if values else config


def add(config: RunConfig, changes: Changes, step: int, values: Mapping[str, Any]) -> Changes:
    """`changes` with `values` applied from `step` on (merged with a change already due there), checked as above.
    Values equal to what the step would train with anyway are dropped; nothing left, the list is unchanged."""
    if len(changes) >= MAX_CHANGES and (not changes or changes[-1].step != step):
        raise ConfigError(f"a run takes at most {MAX_CHANGES} changes; fork it or start a new run")
    before = config_at(config, changes, step - 1)
    after = check(config_at(config, changes, step), values)
    merged = dict(changes[-1].values) if changes and changes[-1].step == step else {}
    merged.update({k: getattr(after, k) for k in values})
    merged = {k: v for k, v in merged.items() if getattr(before, k) != v}
    kept = tuple(c for c in changes if c.step < step)
    return (*kept, Change(step, merged)) if merged else kept


def label(config: RunConfig, changes: Sequence[Change], change: Change) -> str:
    """What a change did, e.g. "lr 0.01 → 0.001, clip off → 1"."""
    before = config_at(config, changes, change.step - 1)
    return ", ".join(f"{_NAMES.get(k, k)} {_shown(getattr(before, k))} → {_shown(v)}" for k, v in change.values.items())


_NAMES = {"batch_size": "batch", "eval_every": "validate every", "probe_every": "probe every",
          "probe_size": "probe samples"}


def _shown(value: Any) -> str:
    return "off" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def to_json(changes: Sequence[Change]) -> str:
    """The URL's and the run file's form: [[step, {setting: value}], ...]."""
    return json.dumps([c.to_list() for c in changes], sort_keys=True, separators=(",", ":"))


def from_list(config: RunConfig, items: Any) -> Changes:
    """Changes from their JSON form, checked in full: steps rising, from 1 to config.steps, live settings only,
    each value within its setting's range (ConfigError says which and why)."""
    if not isinstance(items, list):
        raise ConfigError("changes must be a list of [step, {setting: value}] pairs")
    if len(items) > MAX_CHANGES:
        raise ConfigError(f"{len(items)} changes; a run takes at most {MAX_CHANGES}")
    changes: Changes = ()
    for item in items:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], dict)):
            raise ConfigError(f"change {str(item)[:60]} must be a pair [step, {{setting: value}}]")
        step, values = item
        last = changes[-1].step if changes else 0
        if isinstance(step, bool) or not isinstance(step, int) or not last < step <= config.steps:
            raise ConfigError(f"change at step {str(step)[:30]}: steps must be whole numbers rising from 1 to "
                              f"{config.steps} (the run's last step)")
        before = changes
        changes = add(config, changes, step, values)
        if len(changes) == len(before):
            raise ConfigError(f"the change at step {step} changes nothing")
    return changes


def from_json(config: RunConfig, text: str) -> Changes:
    if not isinstance(text, str) or len(text) > MAX_CHANGES_TEXT:
        raise ConfigError(f"the list of changes is longer than {MAX_CHANGES_TEXT} characters")
    if json_depth(text) > 3:
        raise ConfigError("changes must be a flat list of [step, {setting: value}] pairs")
    try:
        items = json.loads(text)
    except (ValueError, RecursionError):
        raise ConfigError(f"the list of changes {text[:60]!r} is not valid JSON") from None
    return from_list(config, items)
