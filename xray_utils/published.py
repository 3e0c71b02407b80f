"""The original study's published numbers, as data: counts, settings, accuracies and per-class reports.

Every figure here is one the study's notebook printed (or follows from what it
printed), each marked with the section of the reference file
``shared/reference/original_study.md`` it comes from. The book sets its own runs
beside these; nothing here is computed from this project's data.
"""

from __future__ import annotations

import pandas as pd

from .config import STUDY_MODELS
from .errors import ConfigError

# The book's class names, in its order, and the names the study's reports printed
# (section 5: target_names=['COVID-19', 'Normal', 'Pneumonia']).
CLASSES: tuple[str, ...] = ("COVID", "Normal", "Viral Pneumonia")
STUDY_CLASS_NAMES: dict[str, str] = {"COVID": "COVID-19", "Normal": "Normal", "Viral Pneumonia": "Pneumonia"}

# Section 1: "number of images for each category: [1200, 1341, 1345]", total 3886.
STUDY_CLASS_COUNTS: dict[str, int] = {"COVID": 1200, "Normal": 1341, "Viral Pneumonia": 1345}
# Section 1: y_test.sum() printed COVID 240, NORMAL 269, PNEUMONIA 269 (778 images).
STUDY_TEST_COUNTS: dict[str, int] = {"COVID": 240, "Normal": 269, "Viral Pneumonia": 269}
STUDY_IMAGES = sum(STUDY_CLASS_COUNTS.values())  # 3,886
STUDY_TEST_IMAGES = sum(STUDY_TEST_COUNTS.values())  # 778

# Section 1: preprocessor(data, shape=(192, 192)); section 3: epochs=50, Keras' default batch of 32.
STUDY_IMAGE_SIZE = 192
STUDY_EPOCHS = 50
STUDY_BATCH_SIZE = 32
# Section 4: the local file brucechou1983_CheXNet_Keras_0.3.0_weights.h5, loaded into model 4.
STUDY_M4_WEIGHTS = "CheXNet (brucechou1983 CheXNet-Keras 0.3.0)"
# Section 3, "LR reductions logged": the epoch of each model's first ReduceLROnPlateau cut.
STUDY_FIRST_LR_CUT: dict[str, int] = {"m1": 10, "m2": 13, "m3": 12, "m4": 7}

# Section 5, the results table as printed (test set = validation set, epoch 50).
PUBLISHED = pd.DataFrame(
    {
        "model": list(STUDY_MODELS),
        "published_test_loss": [0.071186, 0.092738, 2.376859, 0.067038],
        "published_test_accuracy": [0.978149, 0.971722, 0.717224, 0.987147],
    }
).set_index("model")


def _row(precision: float, recall: float, f1: float, support: int) -> dict[str, float | int]:
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


# Section 5, the four classification reports as printed (two decimals), per class
# under the book's class names (the study's "COVID-19" and "Pneumonia" renamed).
PUBLISHED_REPORTS: dict[str, dict[str, dict[str, float | int]]] = {
    "m1": {
        "COVID": _row(0.98, 0.98, 0.98, 240),
        "Normal": _row(0.98, 0.99, 0.98, 269),
        "Viral Pneumonia": _row(0.98, 0.96, 0.97, 269),
    },
    "m2": {
        "COVID": _row(0.98, 0.98, 0.98, 240),
        "Normal": _row(0.97, 0.97, 0.97, 269),
        "Viral Pneumonia": _row(0.96, 0.96, 0.96, 269),
    },
    "m3": {
        "COVID": _row(0.93, 0.93, 0.93, 240),
        "Normal": _row(1.00, 0.28, 0.43, 269),
        "Viral Pneumonia": _row(0.56, 0.97, 0.71, 269),
    },
    "m4": {
        "COVID": _row(0.99, 1.00, 1.00, 240),
        "Normal": _row(0.99, 0.98, 0.99, 269),
        "Viral Pneumonia": _row(0.98, 0.98, 0.98, 269),
    },
}


def published_report(model: str) -> pd.DataFrame:
    """The study's printed classification report for ``model`` ("m1".."m4").

    Returns a table with index ``class`` (the book's three class names, in order)
    and columns ``precision``, ``recall``, ``f1-score`` (fractions, two decimals
    as printed) and ``support`` (test images, int), named as
    :func:`xray_utils.evaluation.report_frame` names them.
    Raises :class:`ConfigError` for a model the study did not train.
    """
    if model not in PUBLISHED_REPORTS:
        raise ConfigError(
            f"model={model!r} has no published report; the study printed one for {', '.join(PUBLISHED_REPORTS)}"
        )
    rows = PUBLISHED_REPORTS[model]
    frame = pd.DataFrame(
        {
            "precision": [rows[name]["precision"] for name in CLASSES],
            "recall": [rows[name]["recall"] for name in CLASSES],
            "f1-score": [rows[name]["f1"] for name in CLASSES],
            "support": [int(rows[name]["support"]) for name in CLASSES],
        },
        index=pd.Index(CLASSES, name="class"),
    )
    return frame
