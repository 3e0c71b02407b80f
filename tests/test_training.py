import io

import numpy as np
import pytest

from xray_utils import run_folders as xruns
from xray_utils.config import TrainConfig
from xray_utils.data import find_dataset, load_images
from xray_utils.errors import RunError
from xray_utils.run_folders import find_run
from xray_utils.training import train
from xray_utils.weights import resolve_weights

pytestmark = pytest.mark.backend


@pytest.fixture(scope="module")
def small_images(tmp_path_factory):
    from xray_utils.data import make_synthetic_dataset

    root = make_synthetic_dataset(tmp_path_factory.mktemp("syn") / "set", per_class=20, image_size=32)
    return load_images(find_dataset(root), 32, 1, cache_dir=tmp_path_factory.mktemp("cache"))


def _config(**changes):
    return TrainConfig(**{"model": "m1", "image_size": 32, "channels": 1, "epochs": 2, "batch_size": 16, **changes})


def test_run_folder_has_everything_and_is_reused(small_images, tmp_path):
    out = io.StringIO()
    run = train(_config(), small_images, runs_dir=tmp_path, stream=out)
    for name in (
        "config.json",
        "environment.json",
        "split.csv",
        "history.csv",
        "predictions.npz",
        "metrics.json",
        "model.keras",
        "COMPLETE",
    ):
        assert (run.folder / name).is_file(), name
    assert len(run.history) == 2 and {"loss", "val_accuracy", "learning_rate", "seconds"} <= set(run.history)
    assert out.getvalue().count("[m1/study] epoch") == 2  # one line per epoch, no progress bars
    assert run.metrics["test_images"] == len(run.predictions()["y_true"]) == 12
    assert run.config["synthetic_data"] is True and run.environment["backend"]
    model = run.load_model()
    assert model.count_params() == run.metrics["parameters"]
    again = train(_config(), small_images, runs_dir=tmp_path, stream=io.StringIO())
    assert again.folder == run.folder and again.metrics == run.metrics


def test_training_is_deterministic(small_images, tmp_path):
    first = train(_config(), small_images, runs_dir=tmp_path / "a", stream=io.StringIO())
    second = train(_config(), small_images, runs_dir=tmp_path / "b", stream=io.StringIO())
    np.testing.assert_allclose(first.history["loss"], second.history["loss"], rtol=1e-5)


def test_leak_arms_share_training_images_and_recipe_and_keep_the_last_epoch(small_images, tmp_path):
    arms = {
        p: train(_config(protocol=p, epochs=3), small_images, runs_dir=tmp_path, stream=io.StringIO())
        for p in ("test_steered", "corrected")
    }
    splits = {p: run.split() for p, run in arms.items()}
    train_files = {p: set(split.query("subset == 'train'")["file"]) for p, split in splits.items()}
    assert train_files["test_steered"] == train_files["corrected"]
    assert splits["test_steered"].query("subset == 'test'").used_for_validation.all()
    assert not splits["corrected"].query("subset == 'test'").used_for_validation.any()
    assert set(splits["test_steered"].subset) == {"train", "unused", "test"}
    for run in arms.values():
        assert run.metrics["evaluated_epoch"] == run.metrics["epochs_run"] == 3  # no early stopping, no restore


def test_interrupted_run_is_marked_incomplete_and_leaves_finished_run_alone(small_images, tmp_path, monkeypatch):
    finished = train(_config(), small_images, runs_dir=tmp_path, stream=io.StringIO())
    before = {p.name: p.read_bytes() for p in finished.folder.iterdir() if p.is_file()}

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("keras.Model.fit", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(_config(), small_images, runs_dir=tmp_path, retrain=True, stream=io.StringIO())
    after = {p.name: p.read_bytes() for p in finished.folder.iterdir() if p.is_file()}
    assert before == after
    stale = xruns.stale_attempts(tmp_path, finished.name)
    assert len(stale) == 1 and not xruns.is_finished(stale[0])
    monkeypatch.undo()
    out = io.StringIO()
    train(_config(), small_images, runs_dir=tmp_path, retrain=True, stream=out)
    assert "interrupted attempt" in out.getvalue() and not xruns.stale_attempts(tmp_path, finished.name)


def test_a_locked_run_is_refused(small_images, tmp_path):
    name = find_run(_config(), small_images, tmp_path).name
    with xruns.run_lock(tmp_path, name):
        with pytest.raises(RunError, match="Another process is training"):
            train(_config(), small_images, runs_dir=tmp_path, stream=io.StringIO())


def test_images_must_match_the_config(small_images, tmp_path):
    with pytest.raises(RunError, match="config asks for"):
        train(_config(image_size=64), small_images, runs_dir=tmp_path)


def test_weights_resolution_offline(monkeypatch, tmp_path):
    monkeypatch.setattr("xray_utils.weights._imagenet_available", lambda timeout=2.0: False)
    monkeypatch.setattr("xray_utils.weights.find_chexnet_file", lambda: None)
    assert resolve_weights("auto")[0] == "none"
    with pytest.raises(RunError, match="no brucechou1983"):
        resolve_weights("chexnet")
    fake = tmp_path / "chexnet.h5"
    fake.write_bytes(b"x")
    monkeypatch.setattr("xray_utils.weights.find_chexnet_file", lambda: fake)
    assert resolve_weights("auto") == (str(fake), "CheXNet weights (chexnet.h5)")  # no machine path in a run


@pytest.mark.slow
def test_short_real_training_run_learns(shared_dataset, tmp_path):
    images = load_images(find_dataset(shared_dataset).subset(120), 64, 1, cache_dir=tmp_path / "c")
    run = train(_config(image_size=64, epochs=3, batch_size=32), images, runs_dir=tmp_path, stream=io.StringIO())
    assert run.config["synthetic_data"] is False
    assert run.metrics["test_accuracy"] > 0.5  # chance is 1/3


def test_training_state_is_built_before_fit_so_the_step_is_traced_once():
    import keras

    from xray_utils.models import build_model
    from xray_utils.pipeline import batches, one_hot
    from xray_utils.recipe import build_training_state, compile_study

    images = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 1), dtype=np.uint8)
    targets = one_hot(np.arange(16) % 3, 3)
    model = compile_study(build_model("m1", (32, 32, 1)))
    build_training_state(model, images[:2], targets[:2])
    assert model.optimizer.built
    assert all(float(keras.ops.convert_to_numpy(v)) == 0 for m in model.metrics for v in m.variables)
    traced = []
    if keras.backend.backend() == "tensorflow":
        step = model.train_step
        model.train_step = lambda data: traced.append(1) or step(data)
    history = model.fit(batches(images, targets, np.arange(16), 8), epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2
    if keras.backend.backend() == "tensorflow":
        # A tf.function that creates variables on its first call is traced twice (DenseNet121: +45 s).
        assert len(traced) == 1


def test_precision_is_part_of_the_run_and_restored_after_training(small_images, tmp_path):
    import keras

    run = train(_config(epochs=1, precision="mixed_bfloat16"), small_images, runs_dir=tmp_path, stream=io.StringIO())
    assert keras.config.dtype_policy().name == "float32"
    assert run.config["precision"] == "mixed_bfloat16"
    assert run.load_model().get_layer("conv1").compute_dtype == "bfloat16"
    assert find_run(_config(epochs=1), small_images, tmp_path) != run.folder  # float32 is another run
