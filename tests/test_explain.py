import keras
import numpy as np
import pytest

from xray_utils import explain
from xray_utils.explain import heatmaps, target_layer
from xray_utils.models import build_model

pytestmark = pytest.mark.backend


def class_activation_maps(model: keras.Model, images: np.ndarray, class_index=None) -> np.ndarray:
    """Plain CAM (Zhou et al. 2016), the oracle Grad-CAM must equal on a GlobalAveragePooling2D -> Dense head."""
    layers = model.layers
    if not (isinstance(layers[-1], keras.layers.Dense) and isinstance(layers[-2], keras.layers.GlobalAveragePooling2D)):
        raise ValueError(f"CAM needs a GlobalAveragePooling2D -> Dense head; '{model.name}' has none")
    features = keras.Model(model.input, layers[-2].input)
    feature_maps = keras.ops.convert_to_numpy(features(images, training=False))
    kernel = keras.ops.convert_to_numpy(layers[-1].kernel)
    if class_index is None:
        class_index = keras.ops.convert_to_numpy(model(images, training=False)).argmax(axis=1)
    class_index = np.broadcast_to(np.asarray(class_index), (len(images),))
    maps = np.einsum("nhwc,cn->nhw", feature_maps, kernel[:, class_index])
    return explain._normalise(maps, images.shape[1:3])


def _gap_model(size=16, seed=0):
    """features (1x1 conv, 4 channels) -> global average pooling -> dense: CAM and Grad-CAM coincide."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="features")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def _region_model(size=16, rows=(2, 6), cols=(9, 13)):
    """The class score depends only on the pixels in one window of the image."""
    inputs = keras.Input((size, size, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(2, 1, use_bias=False, name="features", kernel_initializer=keras.initializers.Constant(1.0))(
        x
    )
    x = keras.layers.Cropping2D(((rows[0], size - rows[1]), (cols[0], size - cols[1])))(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(
        2, activation="softmax", kernel_initializer=keras.initializers.Constant([[1.0, -1.0], [1.0, -1.0]])
    )(x)
    return keras.Model(inputs, outputs)


IMAGES = np.random.default_rng(0).integers(20, 255, (3, 16, 16, 1), dtype=np.uint8)


@pytest.mark.parametrize("method", ["gradcam", "hirescam"])
def test_shape_range_and_normalisation(method):
    maps = heatmaps(_gap_model(), IMAGES, method=method)
    assert maps.shape == (3, 16, 16) and (maps >= 0).all()
    assert np.allclose(maps.reshape(3, -1).max(1)[maps.reshape(3, -1).max(1) > 0], 1.0)


def test_gradcam_equals_cam_for_a_pooling_dense_head():
    model = _gap_model(seed=3)
    np.testing.assert_allclose(
        heatmaps(model, IMAGES, class_index=1), class_activation_maps(model, IMAGES, 1), atol=1e-4
    )


def test_heatmap_peaks_in_the_only_region_the_output_depends_on():
    maps = heatmaps(_region_model(), IMAGES, class_index=0, method="hirescam")
    inside = maps[:, 2:6, 9:13].mean()
    outside = np.concatenate([maps[:, :1].ravel(), maps[:, 8:].ravel()]).mean()
    assert inside > 0.3 and outside < 0.05
    peak_rows, peak_cols = np.unravel_index(maps[0].argmax(), maps[0].shape)
    assert 1 <= peak_rows <= 6 and 8 <= peak_cols <= 13


def test_works_for_the_study_models():
    images = np.random.default_rng(1).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    for name, layer in (("m1", "conv4"), ("m3", "conv4")):
        model = build_model(name, (32, 32, 3))
        assert target_layer(model).name == layer
        assert heatmaps(model, images).shape == (2, 32, 32)


@pytest.mark.slow
def test_works_through_the_nested_densenet():
    model = build_model("m4", (32, 32, 3))
    assert target_layer(model).name == "chexnet"
    maps = heatmaps(model, np.random.default_rng(2).integers(0, 255, (1, 32, 32, 3), dtype=np.uint8))
    assert maps.shape == (1, 32, 32) and (maps >= 0).all()


def test_cam_refuses_heads_it_cannot_explain():
    with pytest.raises(ValueError, match="GlobalAveragePooling2D -> Dense"):
        class_activation_maps(build_model("m1", (32, 32, 1)), IMAGES[:, :, :, :].repeat(2, 1).repeat(2, 2))


def test_occlusion_blanks_the_chest_or_everything_else():
    from xray_utils.explain import occlude

    images = np.full((2, 20, 20, 3), 200, dtype=np.uint8)
    hidden = occlude(images, "outside", box=(0.25, 0.75, 0.25, 0.75))
    assert (hidden[:, 5:15, 5:15] == 0).all() and (hidden[:, :5] == 200).all()
    only = occlude(images, "inside", box=(0.25, 0.75, 0.25, 0.75))
    assert (only[:, 5:15, 5:15] == 200).all() and (only[:, :5] == 0).all()
    assert (images == 200).all()  # the input is not modified
    with pytest.raises(ValueError, match="keep='lungs'"):
        occlude(images, "lungs")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    import io

    from xray_utils.config import TrainConfig
    from xray_utils.data import find_dataset, load_images, make_synthetic_dataset
    from xray_utils.training import train

    root = make_synthetic_dataset(tmp_path_factory.mktemp("syn") / "set", per_class=12, image_size=32)
    images = load_images(find_dataset(root), 32, 1, cache_dir=tmp_path_factory.mktemp("cache"))
    with pytest.MonkeyPatch.context() as patch:  # module fixtures run before conftest's per-test paths
        patch.setenv("XRAY_JAX_CACHE_DIR", str(tmp_path_factory.mktemp("jax-cache")))
        run = train(
            TrainConfig(model="m1", image_size=32, channels=1, epochs=1, batch_size=8),
            images,
            runs_dir=tmp_path_factory.mktemp("runs"),
            stream=io.StringIO(),
        )
    return run, images


def test_occlusion_and_held_out_tables(tiny_run):
    from xray_utils.explain import example_picks, held_out_recall, occlusion_table

    run, images = tiny_run
    table = occlusion_table({("m1", "study"): run}, lambda model: images)
    assert list(table.columns) == ["model", "protocol", "images", "as is", "chest hidden", "only chest shown"]
    assert table.loc[0, "images"] == run.metrics["test_images"]  # fewer than max_images: all of them
    assert table.loc[0, "as is"] == pytest.approx(run.metrics["test_accuracy"])
    recall = held_out_recall({("m1", "study"): run}, lambda model: images)
    assert list(recall["class"]) == ["COVID", "Normal", "Viral Pneumonia"]
    assert (recall[["called COVID", "called Normal", "called Viral Pneumonia"]].sum(axis=1) == 12).all()
    assert ((recall.ci95_low <= recall.recall) & (recall.recall <= recall.ci95_high)).all()
    picks = example_picks(run)
    assert set(picks.columns) == {"index", "true", "predicted", "correct"}
    assert all((row.true == row.predicted) == row.correct for row in picks.itertuples())


def test_occlusion_sample_is_stratified_seeded_and_capped():
    from xray_utils.explain import stratified_sample

    labels = np.repeat([0, 1, 2], [500, 301, 199])
    chosen = stratified_sample(labels, 300, seed=5)
    assert len(chosen) == 300 and len(set(chosen)) == 300 and (np.diff(chosen) > 0).all()
    assert np.bincount(labels[chosen]).tolist() == [150, 90, 60]  # 150, 90.3, 59.7 by largest remainder
    np.testing.assert_array_equal(chosen, stratified_sample(labels, 300, seed=5))
    assert not np.array_equal(chosen, stratified_sample(labels, 300, seed=6))
    np.testing.assert_array_equal(stratified_sample(labels[:40], 300), np.arange(40))
    np.testing.assert_array_equal(stratified_sample(labels, None), np.arange(1000))
    with pytest.raises(ValueError, match="max_images=0"):
        stratified_sample(labels, 0)


def test_occlusion_table_scores_the_stated_sample(tiny_run):
    from xray_utils.explain import occlusion_table, stratified_sample

    run, images = tiny_run
    table = occlusion_table({("m1", "study"): run}, lambda model: images, max_images=6, seed=3)
    assert table.loc[0, "images"] == 6
    predicted = run.predictions()
    sample = stratified_sample(predicted["y_true"], 6, seed=3)
    assert np.bincount(predicted["y_true"][sample]).tolist() == [2, 2, 2]
    expected = (predicted["y_prob"][sample].argmax(1) == predicted["y_true"][sample]).mean()
    assert table.loc[0, "as is"] == pytest.approx(expected)
