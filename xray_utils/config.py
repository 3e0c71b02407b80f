"""Run parameters, their validation, and the named profiles (``quick``, ``full``).

A *profile* is a small YAML file of chapter parameters (``profiles/*.yaml`` in
this package). Every chapter accepts the same parameter names, so the runner
can pass one profile to all of them, and the evaluation chapter can rebuild
the exact configuration of every model run from the same values.

All checks here run before any data is loaded or any model is built, and fail
with one line naming the parameter, the value and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

import yaml

from .errors import ConfigError

MODEL_NAMES = ("m1", "m2", "m3", "m4", "m4_clean")
# Keras dtype policies: "mixed_float16" is for GPUs (about twice the speed on tensor
# cores), "mixed_bfloat16" for recent CPUs and TPUs; the class scores stay float32.
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
PROTOCOLS = ("study", "corrected")
M4_WEIGHTS = ("auto", "chexnet", "imagenet", "none")
DATA_SUBSETS = ("study", "all")  # see xray_utils.data.releases
MIN_IMAGE_SIZE = 16  # four 2x2 poolings
MIN_DENSENET_SIZE = 32  # DenseNet121 downsamples by 32


def validate_image_shape(image_size: Any, channels: Any, model: str | None = None) -> None:
    """Raise :class:`ConfigError` unless the shape suits the models (and ``model``)."""
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < MIN_IMAGE_SIZE:
        raise ConfigError(
            f"image_size={image_size!r} is not allowed: use an integer >= {MIN_IMAGE_SIZE} "
            "(the CNNs pool by 2 four times)"
        )
    if image_size % 16:
        raise ConfigError(
            f"image_size={image_size} is not allowed: use a multiple of 16 (e.g. 64, 128, 192) "
            "so four 2x2 poolings divide it evenly"
        )
    if model in ("m4", "m4_clean") and image_size < MIN_DENSENET_SIZE:
        raise ConfigError(f"image_size={image_size} is too small for DenseNet121 (model {model}): use >= 32")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ConfigError(f"channels={channels!r} is not allowed: use 1 (grayscale) or 3 (RGB, as the study)")


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name}={value!r} is not allowed: use a whole number > 0")


def _choice(name: str, value: Any, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not known; allowed: {', '.join(map(str, allowed))}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a training run computes.

    ``key()`` hashes these fields with the data's fingerprint: two runs with
    the same key are the same experiment, so a finished one can be reused.
    (The Keras backend is recorded with a run but is not part of the key, so
    runs trained with JAX on a GPU can be read back with TensorFlow.)
    """

    model: str
    protocol: str = "study"
    image_size: int = 192
    channels: int = 3
    epochs: int = 50
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 1987
    per_class: int | None = None
    weights: str = "auto"
    min_lr: float = 1e-6
    patience: int = 6
    precision: str = "float32"

    def __post_init__(self) -> None:
        _choice("model", self.model, MODEL_NAMES)
        _choice("protocol", self.protocol, PROTOCOLS)
        validate_image_shape(self.image_size, self.channels, self.model)
        _positive_int("epochs", self.epochs)
        _positive_int("batch_size", self.batch_size)
        _positive_int("patience", self.patience)
        _choice("precision", self.precision, PRECISIONS)
        if self.per_class is not None:
            _positive_int("per_class", self.per_class)
        if not isinstance(self.learning_rate, (int, float)) or not 0 < self.learning_rate < 1:
            raise ConfigError(f"learning_rate={self.learning_rate!r} is not allowed: use a number in (0, 1)")
        if self.weights not in M4_WEIGHTS and not str(self.weights).endswith(".h5"):
            raise ConfigError(
                f"weights={self.weights!r} is not known; allowed: {', '.join(M4_WEIGHTS)} "
                "or a path to a CheXNet .h5 file"
            )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, self.channels)

    def to_dict(self) -> dict:
        return asdict(self)

    def key(self, data_fingerprint: str) -> str:
        """12-hex-digit identity of this configuration on the given data."""
        payload = json.dumps({"config": self.to_dict(), "data": data_fingerprint}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


# Chapter parameters: name -> default. Profiles and command-line overrides may
# set exactly these; each notebook's parameters cell declares the ones it uses.
CHAPTER_PARAMETERS: dict[str, Any] = {
    "profile": "quick",
    "data_dir": None,
    "data_subset": "study",
    "external_dir": None,
    "runs_dir": None,
    "image_size": 32,
    "channels": 3,
    "per_class": 400,
    "epochs": 6,
    "m4_epochs": 3,
    "m4_image_size": 32,
    "m4_weights": "auto",
    "batch_size": 8,
    "seed": 1987,
    "protocols": ["study", "corrected"],
    "m4_protocols": ["study"],
    "precision": "float32",
    "retrain": False,
}


def _check_parameter_names(values: dict, where: str) -> None:
    unknown = sorted(set(values) - set(CHAPTER_PARAMETERS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(CHAPTER_PARAMETERS)}"
        )


def available_profiles() -> list[str]:
    folder = resources.files("xray_utils") / "profiles"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_profile(name: str) -> dict[str, Any]:
    """The chapter parameters of a named profile (defaults filled in)."""
    if name not in available_profiles():
        raise ConfigError(f"profile={name!r} is not known; allowed: {', '.join(available_profiles())}")
    text = (resources.files("xray_utils") / "profiles" / f"{name}.yaml").read_text()
    values = yaml.safe_load(text) or {}
    values.pop("description", None)
    _check_parameter_names(values, f"profile '{name}'")
    return {**CHAPTER_PARAMETERS, **values, "profile": name}


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["epochs=3", "protocols=[study]"]`` -> ``{"epochs": 3, "protocols": ["study"]}`` (YAML values)."""
    values = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"override {pair!r} is not NAME=VALUE (e.g. epochs=3)")
        values[name.strip()] = yaml.safe_load(raw) if raw.strip() else None
    _check_parameter_names(values, "override")
    return values


def train_config(model: str, protocol: str, params: dict[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` a chapter with ``params`` trains for ``model``/``protocol``."""
    _check_parameter_names(params, "chapter parameters")
    is_densenet = model in ("m4", "m4_clean")
    return TrainConfig(
        model=model,
        protocol=protocol,
        image_size=params["m4_image_size"] if is_densenet else params["image_size"],
        channels=params["channels"],
        epochs=params["m4_epochs"] if is_densenet else params["epochs"],
        batch_size=params["batch_size"],
        seed=params["seed"],
        per_class=params["per_class"],
        weights=params["m4_weights"] if is_densenet else "none",
        precision=params["precision"],
    )


def chapter_params(**values: Any) -> dict[str, Any]:
    """Complete and check a chapter's parameters; raises :class:`ConfigError` early."""
    _check_parameter_names(values, "chapter parameters")
    params = {**CHAPTER_PARAMETERS, **values}
    if params["profile"] not in available_profiles():
        _choice("profile", params["profile"], available_profiles())
    _choice("data_subset", params["data_subset"], DATA_SUBSETS)
    for name in ("protocols", "m4_protocols"):
        if isinstance(params[name], str):
            params[name] = [params[name]]
        if not params[name]:
            raise ConfigError(f"{name}=[] is not allowed: name at least one of {', '.join(PROTOCOLS)}")
        for protocol in params[name]:
            _choice(name, protocol, PROTOCOLS)
    train_config("m1", params["protocols"][0], params)  # validates shapes, epochs, sizes
    train_config("m4", params["m4_protocols"][0], params)
    return params


def protocols_for(model: str, params: dict[str, Any]) -> list[str]:
    """The protocols a chapter trains ``model`` under."""
    return list(params["m4_protocols"] if model in ("m4", "m4_clean") else params["protocols"])
