"""What a training run is: the study's names and constants, and :class:`TrainConfig`.

The lowest layer of the package: it imports nothing of it but its errors, and
never touches data. Chapter parameters (profiles and overrides) are resolved
into configurations by :mod:`xray_utils.params`.

All checks here fail with one line naming the parameter, the value and what is
allowed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from .errors import ConfigError

MODEL_NAMES = ("m1", "m2", "m3", "m4", "m4_clean")
STUDY_MODELS = ("m1", "m2", "m3", "m4")  # the study's four models, which chapters 02-05 train, in order
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
MAX_IMAGE_SIZE = 1024  # 1,024 x 1,024 x 3 bytes per image already; the study used 192


def validate_image_shape(image_size: Any, channels: Any, model: str | None = None) -> None:
    """Raise :class:`ConfigError` unless the shape suits the models (and ``model``)."""
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < MIN_IMAGE_SIZE:
        raise ConfigError(
            f"image_size={image_size!r} is not allowed: use an integer >= {MIN_IMAGE_SIZE} "
            "(the CNNs pool by 2 four times)"
        )
    if image_size > MAX_IMAGE_SIZE:
        raise ConfigError(
            f"image_size={image_size} is too large: use at most {MAX_IMAGE_SIZE} "
            "(the study used 192; every image is decoded into memory at this size)"
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


def check_choice(name: str, value: Any, allowed) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``allowed``."""
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
        check_choice("model", self.model, MODEL_NAMES)
        check_choice("protocol", self.protocol, PROTOCOLS)
        validate_image_shape(self.image_size, self.channels, self.model)
        _positive_int("epochs", self.epochs)
        _positive_int("batch_size", self.batch_size)
        check_choice("precision", self.precision, PRECISIONS)
        _seed(self.seed)
        if self.per_class is not None:  # whether the split can serve so few is checked with the data
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
