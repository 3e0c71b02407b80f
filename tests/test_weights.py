"""Model 4's `auto` weights: ImageNet only when the download itself works."""

import socket

import keras
import pytest

from xray_utils import weights


@pytest.fixture
def no_chexnet(monkeypatch):
    monkeypatch.setattr(weights, "find_chexnet_file", lambda: None)


def test_auto_takes_imagenet_when_keras_gets_the_file(no_chexnet, monkeypatch):
    fetched = []

    def get_file(fname, origin, cache_subdir, file_hash):
        fetched.append((fname, origin, cache_subdir, file_hash, socket.getdefaulttimeout()))
        print("Downloading data from", origin)  # Keras' message: kept out of the chapter
        return f"/cache/{fname}"

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    assert weights.resolve_weights("auto")[0] == "imagenet"
    fname, origin, subdir, md5, timeout = fetched[0]
    # the file DenseNet121(weights="imagenet", include_top=False) loads from the same cache
    assert origin.endswith(f"/densenet/{fname}") and fname.endswith("_notop.h5") and subdir == "models"
    assert md5 == "30ee3e1110167f948a6b9946edeeb738" and timeout == 20.0
    assert socket.getdefaulttimeout() is None  # restored


@pytest.mark.parametrize("failure", [OSError("Name or service not known"), Exception("URL fetch failure"), ValueError])
def test_auto_falls_back_to_random_when_the_download_fails(no_chexnet, monkeypatch, failure):
    def get_file(*args, **kwargs):
        raise failure

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    weights_, why = weights.resolve_weights("auto")
    assert weights_ == "none" and "unreachable" in why
    assert socket.getdefaulttimeout() is None
