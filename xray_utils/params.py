"""Chapter parameters: one typed, frozen object, resolved once from a profile and overrides.

A *profile* is a small YAML file of chapter parameters (``profiles/*.yaml`` in
this package). Every chapter, ``xray-book`` and the benchmarks take the same
:class:`ChapterParams`, made by one function, :func:`resolve_params`: the named
profile's values, then the overrides, checked, with every path made absolute
from the caller's working directory. Nothing downstream changes it or looks
elsewhere (the environment, a dict passed around) for a setting.

In a chapter, the parameters cell is two lines (``profile``, ``overrides``) and
:func:`collect` turns the chapter's namespace into the same object.

All checks run before any data is loaded or any model is built, and fail with
one line naming the parameter, the value and what is allowed.
"""

from __future__ import annotations

import ast
import dataclasses
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .config import DATA_SUBSETS, DENSENET_MODELS, PROTOCOLS, STUDY_SEED, TrainConfig, check_choice
from .data.sizes import check_per_class
from .errors import ConfigError

PATH_PARAMETERS = ("data_dir", "external_dir", "runs_dir")
SYNTHETIC = "synthetic"  # data_dir=synthetic asks for the stand-in: a word, not a path


@dataclass(frozen=True)
class ChapterParams:
    """Every setting a chapter (or ``xray-book train``) runs with; the defaults are the ``quick`` profile.

    Paths are absolute (or None: the default place, see :mod:`xray_utils.paths`);
    ``protocols`` are tuples. Make one with :func:`resolve_params`, change one
    with :meth:`replace`: both check every value.
    """

    profile: str = "quick"
    data_dir: str | None = None
    data_subset: str = "study"
    external_dir: str | None = None
    runs_dir: str | None = None
    image_size: int = 32  # pixels per side, models 1-3
    channels: int = 3
    per_class: int | None = 400  # images per class (None: all)
    epochs: int = 6
    m4_epochs: int = 3
    m4_image_size: int = 32
    m4_weights: str = "auto"
    batch_size: int = 8
    seed: int = STUDY_SEED
    protocols: tuple[str, ...] = ("study", "test_steered", "corrected")
    m4_protocols: tuple[str, ...] = ("study",)
    precision: str = "float32"
    retrain: bool = False

    def __post_init__(self) -> None:
        check_choice("profile", self.profile, available_profiles())
        check_choice("data_subset", self.data_subset, DATA_SUBSETS)
        for name in PATH_PARAMETERS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name}={value!r} is not allowed: use a path (text) or None")
        if not isinstance(self.retrain, bool):
            raise ConfigError(f"retrain={self.retrain!r} is not allowed: use True or False")
        for name in ("protocols", "m4_protocols"):
            value = getattr(self, name)
            protocols = (value,) if isinstance(value, str) else value
            if not isinstance(protocols, (list, tuple)) or not protocols:
                raise ConfigError(f"{name}={value!r} is not allowed: name at least one of {', '.join(PROTOCOLS)}")
            for protocol in protocols:
                check_choice(name, protocol, PROTOCOLS)
            object.__setattr__(self, name, tuple(protocols))  # frozen: normalised once, here
        for model in ("m1", "m4"):  # shapes, epochs, sizes, precision, seed, weights of both model families
            for protocol in self.protocols_for(model):
                config = self.train_config(model, protocol)
                if config.per_class is not None:
                    check_per_class(config.per_class, protocol, config.seed)

    def train_config(self, model: str, protocol: str) -> TrainConfig:
        """The :class:`TrainConfig` these parameters train for ``model``/``protocol``."""
        is_densenet = model in DENSENET_MODELS
        return TrainConfig(
            model=model,
            protocol=protocol,
            image_size=self.m4_image_size if is_densenet else self.image_size,
            channels=self.channels,
            epochs=self.m4_epochs if is_densenet else self.epochs,
            batch_size=self.batch_size,
            seed=self.seed,
            per_class=self.per_class,
            weights=self.m4_weights if is_densenet else "none",
            precision=self.precision,
        )

    def protocols_for(self, model: str) -> tuple[str, ...]:
        """The protocols ``model`` is trained under."""
        return self.m4_protocols if model in DENSENET_MODELS else self.protocols

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists for the protocols): what papermill injects and JSON records hold."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def overrides(self) -> dict[str, Any]:
        """The values that differ from the profile's (``profile`` itself left out)."""
        profile = load_profile(self.profile)
        return {k: v for k, v in self.to_dict().items() if k != "profile" and v != _plain(profile[k])}

    def replace(self, **changes: Any) -> ChapterParams:
        """A copy with ``changes``, checked like any other."""
        check_names(changes, "ChapterParams.replace")
        return dataclasses.replace(self, **changes)


CHAPTER_PARAMETERS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(ChapterParams)}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def check_names(values: Mapping, where: str) -> None:
    """Raise :class:`ConfigError` naming any key of ``values`` that is not a chapter parameter."""
    unknown = sorted(map(str, set(values) - set(CHAPTER_PARAMETERS)))
    if unknown:
        raise ConfigError(
            f"{where}: unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(CHAPTER_PARAMETERS)}"
        )


def available_profiles() -> list[str]:
    folder = resources.files("xray_utils") / "profiles"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_profile(name: str) -> dict[str, Any]:
    """The chapter parameters of a named profile, defaults filled in, as plain values."""
    check_choice("profile", name, available_profiles())
    text = (resources.files("xray_utils") / "profiles" / f"{name}.yaml").read_text()
    values = yaml.safe_load(text) or {}
    values.pop("description", None)
    check_names(values, f"profile '{name}'")
    return {**{k: _plain(v) for k, v in CHAPTER_PARAMETERS.items()}, **values, "profile": name}


def resolve_params(
    profile: str = "quick", overrides: Mapping[str, Any] | None = None, *, base_dir: str | Path | None = None
) -> ChapterParams:
    """The one way to make chapter parameters: ``profile``'s values, then ``overrides``, checked.

    Relative paths (``data_dir``, ``external_dir``, ``runs_dir``) are made
    absolute from ``base_dir`` (default: the working directory), so they mean
    the same in a kernel that runs elsewhere. ``data_dir="synthetic"`` stays a word.
    """
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"overrides={overrides!r} is not allowed: use a dict such as {{'epochs': 12}}")
    check_names(overrides, "overrides")
    if "profile" in overrides:
        raise ConfigError("overrides: 'profile' is not an override; set profile itself (e.g. profile = 'full')")
    values = {**load_profile(profile), **overrides}
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    for name in PATH_PARAMETERS:
        values[name] = _absolute(name, values[name], base)
    return ChapterParams(**values)


def _absolute(name: str, value: Any, base: Path) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        raise ConfigError(f"{name}={value!r} is not allowed: use a path (text) or None")
    if name == "data_dir" and value.strip().lower() == SYNTHETIC:
        return SYNTHETIC
    return str((base / Path(value).expanduser()).resolve())


def collect(namespace: Mapping[str, Any]) -> ChapterParams:
    """A chapter's parameters from its namespace (``globals()``): ``profile``, ``overrides``, checked.

    A chapter parameter set by name (``papermill -p epochs 3`` injects such a
    name) counts as an override. A name papermill injected that is not a chapter
    parameter (``-p epoch 3``, a typo) is an error naming it: papermill itself
    only warns, and the chapter would run with the profile's value.
    """
    injected = papermill_names(namespace)
    unknown = sorted(injected - set(CHAPTER_PARAMETERS) - {"overrides"})
    if unknown:
        raise ConfigError(
            f"papermill parameter(s) {', '.join(unknown)} are not chapter parameters; allowed: "
            f'{", ".join(CHAPTER_PARAMETERS)} (or -y "overrides: {{epochs: 3}}")'
        )
    overrides = namespace.get("overrides") or {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"overrides={overrides!r} is not allowed: use a dict such as {{'epochs': 12}}")
    named = {k: namespace[k] for k in CHAPTER_PARAMETERS if k in namespace and k != "profile"}
    return resolve_params(namespace.get("profile", CHAPTER_PARAMETERS["profile"]), {**overrides, **named})


def papermill_names(namespace: Mapping[str, Any]) -> set[str]:
    """The names papermill's injected-parameters cell assigned in this kernel (its source starts "# Parameters")."""
    inputs = namespace.get("In")
    if not isinstance(inputs, list):
        return set()
    cell = next((s for s in reversed(inputs) if isinstance(s, str) and s.lstrip().startswith("# Parameters")), None)
    if cell is None:
        return set()
    try:
        tree = ast.parse(cell)
    except SyntaxError:
        return set()
    return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["epochs=3", "protocols=[study]"]`` -> ``{"epochs": 3, "protocols": ["study"]}`` (YAML values).

    Values are plain YAML (``yaml.safe_load``: a tag never constructs anything).
    Unparsable YAML, a tag, or a value of the wrong kind is a one-line
    :class:`ConfigError` naming the parameter.
    """
    values = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"override {pair!r} is not NAME=VALUE (e.g. epochs=3)")
        check_names({name: None}, "override")
        values[name] = _override_value(name, raw)
    return values


def _override_value(name: str, raw: str) -> Any:
    """The YAML value of one override, of the kind the parameter takes.

    Anchors and aliases are refused before anything is built (a few hundred
    bytes of nested aliases expand to gigabytes), and values are shortened in
    messages.
    """
    shown = reprlib.repr(raw)
    try:
        if any(getattr(event, "anchor", None) for event in yaml.parse(raw, Loader=yaml.SafeLoader)):
            raise ConfigError(f"override {name}={shown} is not allowed: YAML anchors and aliases (&, *) are refused")
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        if isinstance(exc, yaml.constructor.ConstructorError):
            problem = f"YAML tags are refused: {problem}"
        raise ConfigError(f"override {name}={shown} is not a plain YAML value ({reprlib.repr(problem)})") from None
    default = CHAPTER_PARAMETERS[name]
    if value is None:
        return None
    if isinstance(default, bool) and not isinstance(value, bool):
        raise ConfigError(f"override {name}={shown} is not allowed: use true or false")
    if (
        isinstance(default, int)
        and not isinstance(default, bool)
        and not (isinstance(value, int) and not isinstance(value, bool))
    ):
        raise ConfigError(f"override {name}={shown} is not allowed: use a whole number")
    if name in PATH_PARAMETERS or isinstance(default, str):
        if isinstance(value, (list, dict)):
            raise ConfigError(
                f"override {name}={shown} is not allowed: use one {'path' if name in PATH_PARAMETERS else 'word'}"
            )
        return value if isinstance(value, str) else raw.strip()  # "data_dir=2021" is a folder name
    if isinstance(default, tuple) and not (
        isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    ):
        raise ConfigError(f"override {name}={shown} is not allowed: use a name or a list of names, e.g. [study]")
    return value
