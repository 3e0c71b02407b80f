"""The study's recipe module: the private Keras handle `without_tensorflow` relies on is still where it was."""

import keras

from xray_utils import recipe


def test_keras_still_has_the_lazy_tensorflow_handle():
    """If a Keras release moves `keras.src.utils.module_utils.tensorflow`, this fails loudly (and training
    under JAX quietly imports TensorFlow again): update `recipe.lazy_tensorflow_handle`."""
    handle = recipe.lazy_tensorflow_handle()
    assert handle is not None, f"Keras {keras.__version__} moved its lazy TensorFlow handle"
    assert hasattr(handle, "_available") and hasattr(handle, "module")


def test_without_tensorflow_restores_the_handle():
    handle = recipe.lazy_tensorflow_handle()
    before = (handle._available, handle.module)
    with recipe.without_tensorflow():
        pass
    assert (handle._available, handle.module) == before
