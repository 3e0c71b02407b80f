import keras
import numpy as np
import pytest

from xray_utils.pipeline import batches, one_hot, predict_proba

pytestmark = pytest.mark.backend


def _collect(data):
    if hasattr(data, "as_numpy_iterator"):  # tf.data
        return list(data.as_numpy_iterator())
    return [data[i] for i in range(len(data))]


def test_batches_gather_by_index_without_copying_and_keep_uint8():
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1) * np.ones((1, 4, 4, 1), np.uint8)
    targets = one_hot(np.arange(10) % 3, 3)
    got = _collect(batches(images, targets, np.array([7, 2, 5]), batch_size=2))
    assert [b[0].shape[0] for b in got] == [2, 1]
    assert got[0][0].dtype == np.uint8
    assert [int(x[0, 0, 0]) for b in got for x in b[0]] == [7, 2, 5]
    np.testing.assert_array_equal(got[0][1], targets[[7, 2]])


def test_shuffled_batches_cover_every_index_once():
    images = np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1) * np.ones((1, 16, 16, 1), np.uint8)
    targets = one_hot(np.zeros(20, int), 3)
    seen = [
        int(x[0, 0, 0])
        for b in _collect(batches(images, targets, np.arange(20), 8, shuffle=True, seed=1))
        for x in b[0]
    ]
    assert sorted(seen) == list(range(20)) and seen != list(range(20))


def test_predict_proba_keeps_index_order_and_sums_to_one():
    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    images = np.random.default_rng(0).integers(0, 255, (9, 16, 16, 1), dtype=np.uint8)
    indices = np.array([8, 0, 4])
    probabilities = predict_proba(model, images, indices, batch_size=2)
    expected = keras.ops.convert_to_numpy(model(images[indices]))
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-12)


def test_pad_to_full_batches_repeats_the_last_index():
    from xray_utils.pipeline import pad_to_full_batches

    np.testing.assert_array_equal(pad_to_full_batches(np.array([4, 1, 7]), 4), [4, 1, 7, 7])
    np.testing.assert_array_equal(pad_to_full_batches(np.array([4, 1]), 2), [4, 1])
    assert len(pad_to_full_batches(np.array([], dtype=int), 4)) == 0


class _ShapeRecorder(keras.layers.Layer):
    """Identity that notes each input shape it is traced (JAX: compiled) with."""

    def __init__(self, seen, **kwargs):
        super().__init__(**kwargs)
        self.note = seen.append  # a bound method: Keras would copy a list attribute into its own

    def call(self, x):
        self.note(tuple(x.shape))
        return x


def test_padded_prediction_has_one_batch_shape_and_the_same_results():
    seen = []
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            _ShapeRecorder(seen),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(2, 3),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    images = np.random.default_rng(1).integers(0, 255, (11, 8, 8, 1), dtype=np.uint8)
    indices = np.array([10, 3, 0, 5, 9, 1, 2])  # 7 images: batches of 4 and 3 unpadded
    seen.clear()
    padded = predict_proba(model, images, indices, batch_size=4, pad=True)
    assert seen and {shape[0] for shape in seen} <= {None, 4}  # TensorFlow traces (None, ...); JAX (4, ...)
    plain = predict_proba(model, images, indices, batch_size=4, pad=False)
    assert padded.shape == plain.shape == (7, 3)
    np.testing.assert_allclose(padded, plain, rtol=1e-6, atol=1e-7)
    if keras.backend.backend() == "jax":
        assert 3 in {shape[0] for shape in seen}  # what padding avoids: a second compilation
        seen.clear()
        predict_proba(model, images, indices, batch_size=4)  # pads by default under JAX
        assert not seen  # the (4, ...) program is reused: nothing traced
