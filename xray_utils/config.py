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
DENSENET_MODELS = ("m4", "m4_clean")  # the transfer models: own epochs, input size, weights, protocols
STUDY_SEED = 1987  # the original notebook's random_state: splits and every seeded draw start here
# Keras dtype policies: "mixed_float16" is for GPUs (about twice the speed on tensor
# cores), "mixed_bfloat16" for recent CPUs and TPUs; the class scores stay float32.
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# Which images steer training (see xray_utils.data.splits): the study's test part with 80 % training
# images, the test part with the corrected split's 70 %, or that split's own 10 % validation part.
PROTOCOLS = ("study", "test_steered", "corrected")
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
    if model in DENSENET_MODELS and image_size < MIN_DENSENET_SIZE:
        raise ConfigError(f"image_size={image_size} is too small for DenseNet121 (model {model}): use >= 32")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ConfigError(f"channels={channels!r} is not allowed: use 1 (grayscale) or 3 (RGB, as the study)")


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name}={value!r} is not allowed: use a whole number > 0")


def _seed(value: Any) -> None:
    """Seeds go to NumPy, scikit-learn and Keras: a whole number they all accept."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**32:
        raise ConfigError(f"seed={value!r} is not allowed: use a whole number from 0 to {2**32 - 1}")


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
    seed: int = STUDY_SEED
    per_class: int | None = None
    weights: str = "auto"
    precision: str = "float32"

    def __post_init__(self) -> None:
        _choice("model", self.model, MODEL_NAMES)
        _choice("protocol", self.protocol, PROTOCOLS)
        validate_image_shape(self.image_size, self.channels, self.model)
        _positive_int("epochs", self.epochs)
        _positive_int("batch_size", self.batch_size)
        _choice("precision", self.precision, PRECISIONS)
        _seed(self.seed)
        if self.per_class is not None:
            _positive_int("per_class", self.per_class)
            from .data.sizes import check_per_class  # late: the data package imports this module

            check_per_class(self.per_class, self.protocol, self.seed)
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
    "seed": STUDY_SEED,
    "protocols": ["study", "test_steered", "corrected"],
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
        _check_parameter_names({name: None}, "override")
        values[name] = _override_value(name, raw)
    return values


_PATH_PARAMETERS = ("data_dir", "external_dir", "runs_dir")


def _override_value(name: str, raw: str) -> Any:
    """The YAML value of one override, of the kind the parameter takes."""
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        if isinstance(exc, yaml.constructor.ConstructorError):
            problem = f"YAML tags are refused: {problem}"
        raise ConfigError(f"override {name}={raw!r} is not a plain YAML value ({problem})") from None
    default = CHAPTER_PARAMETERS[name]
    if value is None:
        return None
    if isinstance(default, bool) and not isinstance(value, bool):
        raise ConfigError(f"override {name}={raw!r} is not allowed: use true or false")
    if name in _PATH_PARAMETERS or isinstance(default, str):
        if isinstance(value, (list, dict)):
            raise ConfigError(
                f"override {name}={raw!r} is not allowed: use one {'path' if name in _PATH_PARAMETERS else 'word'}"
            )
        return value if isinstance(value, str) else raw.strip()  # "data_dir=2021" is a folder name
    if isinstance(default, list) and not (
        isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    ):
        raise ConfigError(f"override {name}={raw!r} is not allowed: use a name or a list of names, e.g. [study]")
    return value


def train_config(model: str, protocol: str, params: dict[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` a chapter with ``params`` trains for ``model``/``protocol``."""
    _check_parameter_names(params, "chapter parameters")
    is_densenet = model in DENSENET_MODELS
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
    return list(params["m4_protocols"] if model in DENSENET_MODELS else params["protocols"])
