"""`precision=mixed_float16` (the GPU setting) builds, compiles with loss scaling, and trains.

On a CPU float16 is slow but computes the same graph, so a tiny model and one
step show that the policy, the loss-scale optimizer Keras adds at ``compile``,
the float32 class scores and the run bookkeeping work together.
"""

import io

import keras
import numpy as np
import pytest

from xray_utils.config import TrainConfig
from xray_utils.data import find_dataset, load_images, make_synthetic_dataset
from xray_utils.models import build_model, precision
from xray_utils.pipeline import one_hot
from xray_utils.recipe import build_training_state, compile_study
from xray_utils.run_folders import find_run
from xray_utils.training import train

pytestmark = pytest.mark.backend


def test_mixed_float16_compiles_with_loss_scaling_and_takes_a_training_step():
    with precision("mixed_float16"):
        model = build_model("m1", (32, 32, 1))
    assert keras.config.dtype_policy().name == "float32"  # restored after building
    compile_study(model)  # outside the context, as train() does: the model keeps its own policy
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    conv = model.get_layer("conv1")
    assert (conv.compute_dtype, conv.variable_dtype) == ("float16", "float32")
    assert model.get_layer("classes").compute_dtype == "float32"

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 32, 32, 1), dtype=np.uint8)
    targets = one_hot(np.arange(8) % 3, 3)
    build_training_state(model, images[:2], targets[:2])
    before = [w.copy() for w in model.get_weights()]
    logs = model.train_on_batch(images, targets, return_dict=True)
    assert np.isfinite(logs["loss"]) and 0 <= logs["accuracy"] <= 1
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights())]
    assert sum(changed) >= len(changed) // 2, "one step with a finite loss should move the weights"
    assert all(w.dtype == np.float32 for w in model.get_weights())
    scores = model.predict(images, verbose=0)
    assert scores.dtype == np.float32 and np.allclose(scores.sum(axis=1), 1, atol=1e-3)


@pytest.fixture(scope="module")
def tiny_images(tmp_path_factory):
    root = make_synthetic_dataset(tmp_path_factory.mktemp("syn") / "set", per_class=20, image_size=32)
    return load_images(find_dataset(root), 32, 1, cache_dir=tmp_path_factory.mktemp("cache"))


def test_a_mixed_float16_run_trains_and_is_a_run_of_its_own(tiny_images, tmp_path):
    config = TrainConfig(model="m1", image_size=32, channels=1, epochs=1, batch_size=16, precision="mixed_float16")
    run = train(config, tiny_images, runs_dir=tmp_path, stream=io.StringIO())
    assert keras.config.dtype_policy().name == "float32"
    assert run.config["precision"] == "mixed_float16"
    assert np.isfinite(run.history["loss"]).all() and np.isfinite(run.metrics["test_loss"])
    model = run.load_model()
    assert model.get_layer("conv1").compute_dtype == "float16"
    probabilities = run.predictions()["y_prob"]
    assert np.isfinite(probabilities).all() and np.allclose(probabilities.sum(axis=1), 1, atol=1e-3)
    float32 = TrainConfig(model="m1", image_size=32, channels=1, epochs=1, batch_size=16)
    assert find_run(float32, tiny_images, tmp_path) != run.folder
