import io

import keras
import numpy as np
import pytest

from xray_utils import accel

pytestmark = pytest.mark.backend

jax_only = pytest.mark.skipif(keras.backend.backend() != "jax", reason="needs KERAS_BACKEND=jax")


@pytest.fixture
def restore_jax_cache():
    """Put JAX's cache settings back afterwards, so other tests do not write into this test's folder."""
    if keras.backend.backend() != "jax":
        yield
        return
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    names = (
        "jax_compilation_cache_dir",
        "jax_persistent_cache_min_compile_time_secs",
        "jax_persistent_cache_min_entry_size_bytes",
    )
    before = {name: getattr(jax.config, name) for name in names}
    yield
    for name, value in before.items():
        jax.config.update(name, value)
    compilation_cache.reset_cache()


def test_cache_folder_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.delenv(accel.CACHE_ENV, raising=False)
    from xray_utils.paths import default_cache_dir

    assert accel.cache_dir_setting() == default_cache_dir() / "jax-compilation"
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jax-own"))
    assert accel.cache_dir_setting() == tmp_path / "jax-own"
    monkeypatch.setenv(accel.CACHE_ENV, str(tmp_path / "ours"))
    assert accel.cache_dir_setting() == tmp_path / "ours"
    monkeypatch.setenv(accel.CACHE_ENV, "off")
    assert accel.cache_dir_setting() is None
    assert accel.enable_compilation_cache() is None


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="checks the non-JAX backends")
def test_does_nothing_under_other_backends(tmp_path):
    assert accel.enable_compilation_cache(tmp_path / "cache") is None
    assert not (tmp_path / "cache").exists()


@jax_only
def test_compiled_programs_are_written_to_the_cache(tmp_path, restore_jax_cache):
    import jax
    import jax.numpy as jnp

    folder = accel.enable_compilation_cache(tmp_path / "cache", min_compile_seconds=0)
    assert folder == (tmp_path / "cache").resolve()
    assert accel.enable_compilation_cache(tmp_path / "cache", min_compile_seconds=0) == folder  # idempotent
    assert jax.config.jax_compilation_cache_dir == str(folder)

    @jax.jit
    def tiny(x):
        return jnp.tanh(x) * 3.0 + 0.25

    tiny(jnp.arange(7.0)).block_until_ready()
    assert any(entry.name.startswith("jit_tiny") for entry in folder.iterdir())


@pytest.fixture(scope="module")
def small_images(tmp_path_factory):
    from xray_utils.data import find_dataset, load_images, make_synthetic_dataset

    root = make_synthetic_dataset(tmp_path_factory.mktemp("syn") / "set", per_class=20, image_size=32)
    return load_images(find_dataset(root), 32, 1, cache_dir=tmp_path_factory.mktemp("cache"))


def test_steps_per_execution_changes_speed_not_results(small_images, tmp_path, monkeypatch, restore_jax_cache):
    """48 training images in batches of 16: 3 steps, so 4 steps per execution also covers a short call."""
    from xray_utils.config import TrainConfig
    from xray_utils.training import train

    monkeypatch.setenv(accel.CACHE_ENV, str(tmp_path / "jax-cache"))
    config = TrainConfig(model="m1", image_size=32, channels=1, epochs=2, batch_size=16)
    one = train(config, small_images, runs_dir=tmp_path / "a", stream=io.StringIO())
    four = train(config, small_images, runs_dir=tmp_path / "b", stream=io.StringIO(), steps_per_execution=4)
    assert one.name == four.name  # not part of the run's identity
    assert (one.metrics["steps_per_execution"], four.metrics["steps_per_execution"]) == (1, 4)
    for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(one.history[column], four.history[column], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(one.predictions()["y_prob"], four.predictions()["y_prob"], rtol=1e-5, atol=1e-6)
    for a, b in zip(one.load_model().get_weights(), four.load_model().get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    if keras.backend.backend() == "jax":
        import jax

        assert jax.config.jax_compilation_cache_dir == str((tmp_path / "jax-cache").resolve())
