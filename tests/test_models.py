import h5py
import keras
import numpy as np
import pytest

from xray_utils.errors import ConfigError, WeightsError
from xray_utils.models import build_chexnet, build_model, layer_table, load_chexnet_weights

pytestmark = pytest.mark.backend


@pytest.mark.parametrize("name,count", [("m1", 512_951), ("m2", 513_975), ("m3", 513_975)])
def test_parameter_counts_at_the_study_size(name, count):
    assert build_model(name, (192, 192, 3)).count_params() == count


@pytest.mark.slow
def test_densenet_parameter_counts():
    if keras.backend.backend() != "tensorflow":  # the architecture's numbers; building m4 under JAX: test_explain
        pytest.skip(
            "DenseNet121's parameter counts are checked once, under TensorFlow (two builds at 192 px are slow under JAX)"
        )
    assert build_model("m4", (192, 192, 3)).count_params() == 7_051_899
    assert build_model("m4_clean", (192, 192, 3)).count_params() == 7_040_579


def test_architecture_details():
    m3 = build_model("m3", (64, 64, 3))
    dropouts = [layer for layer in m3.layers if isinstance(layer, keras.layers.Dropout)]
    assert [d.rate for d in dropouts] == [0.8, 0.2]
    names = [layer.name for layer in m3.layers]
    assert names.index("dropout1") == names.index("bn1") + 1 and names.index("dropout3") == names.index("bn3") + 1
    convs = [layer for layer in m3.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [128, 64, 32, 32]
    assert all(c.kernel_size == (2, 2) and c.padding == "same" for c in convs)
    table = layer_table(build_model("m1", (192, 192, 3)))
    assert table.loc[table.layer == "flatten", "output shape"].item() == "4608"


def test_models_take_raw_uint8_pixels():
    model = build_model("m1", (32, 32, 1))
    batch = np.full((2, 32, 32, 1), 255, dtype=np.uint8)
    probabilities = keras.ops.convert_to_numpy(model(batch))
    assert probabilities.shape == (2, 3) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
    assert isinstance(model.layers[1], keras.layers.Rescaling)


def test_unknown_model_and_bad_shape():
    with pytest.raises(ConfigError, match="model='m9'"):
        build_model("m9", (64, 64, 3))
    with pytest.raises(ConfigError, match="channels=4"):
        build_model("m1", (64, 64, 4))
    with pytest.raises(ConfigError, match="only applies to m4"):
        build_model("m1", (64, 64, 3), weights="imagenet")


def _write_keras2_chexnet_file(path, model, rng):
    """A weights file in the CheXNet-Keras (Keras 2 ``save_weights``) layout, with known values."""
    written = {}
    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"] = b"2.1.3"
        handle.attrs["backend"] = b"tensorflow"
        names = []
        for layer in model.layers:
            keras2_name = layer.name.replace("_conv", "/conv").replace("_bn", "/bn")
            names.append(keras2_name.encode())
            group = handle.create_group(keras2_name)
            weight_names = []
            for weight in layer.weights:
                wname = f"{keras2_name}/{weight.name}:0"
                values = rng.standard_normal(tuple(weight.shape)).astype("float32")
                if "variance" in weight.name:
                    values = np.abs(values) + 0.5
                group.create_dataset(wname, data=values)
                weight_names.append(wname.encode())
                written.setdefault(layer.name, []).append(values)
            group.attrs["weight_names"] = weight_names
        handle.attrs["layer_names"] = names
    return written


@pytest.mark.slow
def test_chexnet_file_in_keras2_layout_loads_every_weight(tmp_path):
    reference = build_chexnet((64, 64, 3))
    written = _write_keras2_chexnet_file(tmp_path / "chexnet.h5", reference, np.random.default_rng(0))
    loaded = build_chexnet((64, 64, 3), weights=tmp_path / "chexnet.h5")
    for layer in loaded.layers:
        for value, expected in zip(layer.get_weights(), written.get(layer.name, [])):
            np.testing.assert_array_equal(value, expected)
    assert sum(len(v) for v in written.values()) == len(loaded.weights)
    m4 = build_model("m4", (64, 64, 3), weights=tmp_path / "chexnet.h5")
    np.testing.assert_array_equal(
        m4.get_layer("chexnet").get_layer("predictions").get_weights()[0], written["predictions"][0]
    )


@pytest.mark.slow
def test_wrong_or_corrupt_weights_files_are_named(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        build_chexnet((64, 64, 3), weights=tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(WeightsError, match="not an HDF5"):
        build_chexnet((64, 64, 3), weights=tmp_path / "text.h5")
    other = build_model("m1", (64, 64, 3))
    other.save_weights(tmp_path / "m1.weights.h5")
    (tmp_path / "m1.weights.h5").rename(tmp_path / "m1.h5")
    with pytest.raises(WeightsError, match="m1.h5"):
        build_chexnet((64, 64, 3), weights=tmp_path / "m1.h5")
    reference = build_chexnet((64, 64, 3))
    _write_keras2_chexnet_file(tmp_path / "bad.h5", reference, np.random.default_rng(0))
    with h5py.File(tmp_path / "bad.h5", "a") as handle:
        group = handle["conv1/conv"]
        (name,) = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        del group[name]
        group.create_dataset(name, data=np.zeros((3, 3, 3, 64), "float32"))
    with pytest.raises(WeightsError, match="layer #0 'conv1/conv'.*conv1_conv"):
        load_chexnet_weights(build_chexnet((64, 64, 3)), tmp_path / "bad.h5")


def test_mixed_precision_computes_in_16_bits_but_scores_in_float32():
    import keras

    from xray_utils.models import build_model, precision

    with precision("mixed_bfloat16"):
        model = build_model("m2", (32, 32, 1))
    assert keras.config.dtype_policy().name == "float32"  # restored
    assert model.get_layer("conv1").compute_dtype == "bfloat16"
    assert model.get_layer("conv1").variable_dtype == "float32"
    assert model.get_layer("classes").compute_dtype == "float32"
    scores = keras.ops.convert_to_numpy(model(np.zeros((2, 32, 32, 1), dtype="uint8")))
    assert scores.dtype == np.float32 and np.allclose(scores.sum(axis=1), 1, atol=1e-5)
