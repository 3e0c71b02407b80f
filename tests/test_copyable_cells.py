"""Each model chapter's copyable plain-Keras cell builds the package's model and recipe.

The cell (tagged ``copyable``) is what a student copies into a blank notebook:
arrays in, ``keras`` model, ``compile``, ``fit``, ``evaluate``. Here it runs on
a tiny random image set for one epoch, and its model is compared with
:func:`xray_utils.models.build_model`: the same layer types in the same order
(nested models expanded), the same output shapes, the same parameter count, and
the same optimizer, loss and learning-rate schedule as :mod:`xray_utils.recipe`.

DenseNet121's cell is built and compiled but its ``fit`` and ``evaluate`` are
recorded, not run: TensorFlow takes about 50 s here to prepare DenseNet121's
training step, and every book build (``make test``'s book check) runs that cell
for real in chapter 5. What the record checks is what it passes them.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import jupytext
import keras
import numpy as np
import pytest

from xray_utils import models, recipe

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTER_OF = {
    "m1": "02_model1_plain_cnn",
    "m2": "03_model2_batchnorm",
    "m3": "04_model3_dropout",
    "m4": "05_model4_chexnet",
}
SIZE = 32  # the smallest input DenseNet121 takes


def copyable_cell(chapter: str) -> str:
    """The source of the chapter's one code cell tagged ``copyable`` (an error if there is not exactly one)."""
    notebook = jupytext.read(NOTEBOOKS / f"{chapter}.py")
    cells = [c for c in notebook.cells if c.cell_type == "code" and "copyable" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{chapter}.py has {len(cells)} cells tagged 'copyable'; expected exactly one"
    return cells[0].source


def flat_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer but inputs, nested models expanded in place."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            found += flat_layers(layer)
        else:
            found.append(layer)
    return found


def describe(model: keras.Model) -> list[tuple[str, tuple]]:
    return [(type(layer).__name__, tuple(layer.output.shape[1:])) for layer in flat_layers(model)]


class RecordedCalls:
    """Stands in for ``keras.Model.fit`` and ``evaluate``: keeps their arguments, trains nothing."""

    def __init__(self):
        self.calls = []

    def fit(self, model, *args, **kwargs):
        self.calls.append(("fit", model, args, kwargs))
        return keras.callbacks.History()

    def evaluate(self, model, *args, **kwargs):
        self.calls.append(("evaluate", model, args, kwargs))
        return [1.0986, 1 / 3]  # what an untrained three-class model scores: ln 3, chance


def run_cell(source: str, record: RecordedCalls | None = None, monkeypatch=None) -> dict:
    """Execute a copyable cell on 36 random 32-px images, one epoch; returns its namespace.

    With ``record`` (and ``monkeypatch``), ``fit`` and ``evaluate`` are recorded instead of run.
    """
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 12)
    images = SimpleNamespace(
        images=rng.integers(0, 256, (len(labels), SIZE, SIZE, 3), dtype=np.uint8),
        labels=labels,
        class_names=["COVID", "Normal", "Viral Pneumonia"],
    )
    params = SimpleNamespace(epochs=1, m4_epochs=1, batch_size=8, image_size=SIZE, m4_image_size=SIZE, seed=1987)
    namespace = {"images": images, "params": params}
    if record is not None:
        monkeypatch.setattr(keras.Model, "fit", lambda model, *a, **k: record.fit(model, *a, **k))
        monkeypatch.setattr(keras.Model, "evaluate", lambda model, *a, **k: record.evaluate(model, *a, **k))
    exec(compile(source, "<copyable cell>", "exec"), namespace)
    return namespace


def check_same_model(name: str, namespace: dict) -> None:
    theirs = namespace["model"]
    ours = models.build_model(name, (SIZE, SIZE, 3))
    assert describe(theirs) == describe(ours), f"{name}: the copyable cell's layers differ from build_model's"
    assert theirs.count_params() == ours.count_params()
    # the recipe: Adam at the study's rate, categorical cross-entropy, the study's schedule
    assert isinstance(theirs.optimizer, keras.optimizers.Adam)
    reference = recipe.compile_study(models.build_model(name, (SIZE, SIZE, 3)))
    assert float(theirs.optimizer.learning_rate) == pytest.approx(float(reference.optimizer.learning_rate), rel=1e-6)
    assert theirs.loss == reference.loss == "categorical_crossentropy"
    schedule = recipe.study_callbacks()[0]
    cut = namespace["lower_rate"]
    assert (cut.monitor, cut.patience, cut.factor, cut.mode) == (
        schedule.monitor,
        schedule.patience,
        schedule.factor,
        schedule.mode,
    )
    assert 0.0 <= namespace["accuracy"] <= 1.0


@pytest.mark.parametrize("name", ["m1", "m2", "m3"])
def test_custom_cnn_cells_build_the_package_model(name):
    check_same_model(name, run_cell(copyable_cell(CHAPTER_OF[name])))


@pytest.mark.slow
def test_densenet_cell_builds_the_package_model(monkeypatch):
    record = RecordedCalls()
    namespace = run_cell(copyable_cell(CHAPTER_OF["m4"]), record, monkeypatch)
    check_same_model("m4", namespace)
    (fit, evaluate) = record.calls  # one fit, then one evaluate, both of the cell's model
    assert [call[0] for call in record.calls] == ["fit", "evaluate"]
    assert fit[1] is evaluate[1] is namespace["model"]
    x_train, y_train = fit[2]
    assert x_train is namespace["x_train"] and y_train is namespace["y_train"]
    assert fit[3]["epochs"] == 1 and fit[3]["batch_size"] == 8  # params.m4_epochs, params.batch_size
    val_x, val_y = fit[3]["validation_data"]
    assert val_x is namespace["x_test"] and val_y is namespace["y_test"]  # the study's flaw: the test set steers
    assert namespace["lower_rate"] in fit[3]["callbacks"]
    assert evaluate[2][0] is namespace["x_test"] and evaluate[2][1] is namespace["y_test"]
    assert len(x_train) + len(val_x) == 36 and len(val_x) == 8  # the 80/20 split of the 36 images


def test_describe_tells_models_apart():
    """The comparison can fail: model 1 and model 2 differ by their batch-norm layers."""
    assert describe(models.build_model("m1", (SIZE, SIZE, 3))) != describe(models.build_model("m2", (SIZE, SIZE, 3)))


def test_cells_use_no_package_helpers():
    """A copyable cell runs in a blank notebook: plain Keras, NumPy, scikit-learn; no xray_utils."""
    for chapter in CHAPTER_OF.values():
        source = copyable_cell(chapter)
        assert "xray_utils" not in source and "plan." not in source and "glue" not in source, chapter
        lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        assert len(lines) <= 26, f"{chapter}: the copyable cell has {len(lines)} lines; keep it short enough to read"
