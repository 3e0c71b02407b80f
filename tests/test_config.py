import pytest

from xray_utils.config import TrainConfig
from xray_utils.errors import ConfigError
from xray_utils.params import CHAPTER_PARAMETERS, load_profile, parse_overrides, resolve_params


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("model", "m5", "model='m5' is not known; allowed: m1, m2, m3, m4"),
        ("epochs", 0, "epochs=0 is not allowed"),
        ("epochs", -3, "epochs=-3"),
        ("batch_size", 0, "batch_size=0"),
        ("image_size", 8, "image_size=8 is not allowed"),
        ("image_size", 100, "multiple of 16"),
        ("channels", 2, "channels=2"),
        ("protocol", "tuned", "protocol='tuned' is not known"),
        ("weights", "resnet", "weights='resnet' is not known"),
        ("precision", "float8", "precision='float8' is not known; allowed: float32, mixed_float16"),
    ],
)
def test_bad_values_name_the_parameter(field, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(**{"model": "m1", field: value})


def test_densenet_needs_32_pixels():
    with pytest.raises(ConfigError, match="too small for DenseNet121"):
        TrainConfig(model="m4", image_size=16)


def test_key_depends_on_config_and_data_only():
    a = TrainConfig(model="m1", epochs=3)
    assert a.key("data1") == TrainConfig(model="m1", epochs=3).key("data1")
    assert a.key("data1") != a.key("data2")
    assert a.key("data1") != TrainConfig(model="m1", epochs=4).key("data1")


def test_profiles_load_and_differ():
    quick, full = load_profile("quick"), load_profile("full")
    assert set(quick) == set(CHAPTER_PARAMETERS)
    assert full["image_size"] == 192 and full["epochs"] == 50 and full["per_class"] is None
    assert full["batch_size"] == 32 and full["channels"] == 3
    assert quick["image_size"] < full["image_size"] and quick["epochs"] < full["epochs"]


def test_unknown_profile():
    with pytest.raises(ConfigError, match="profile='fast' is not known; allowed: full, quick"):
        load_profile("fast")


def test_overrides_parse_yaml_values_and_reject_unknown_keys():
    assert parse_overrides(["epochs=3", "protocols=[study]", "per_class=null"]) == {
        "epochs": 3,
        "protocols": ["study"],
        "per_class": None,
    }
    with pytest.raises(ConfigError, match="unknown parameter.*epoch\\b"):
        parse_overrides(["epoch=3"])
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_overrides(["epochs"])


def test_chapter_params_validate_before_anything_runs():
    with pytest.raises(ConfigError, match="protocols"):
        resolve_params(overrides=dict(protocols=["study", "best"]))
    with pytest.raises(ConfigError, match="epochs=0"):
        resolve_params(overrides=dict(epochs=0))
    with pytest.raises(ConfigError, match="image_size"):
        resolve_params(overrides=dict(image_size=50))
    assert resolve_params(overrides=dict(protocols="study")).protocols == ("study",)


def test_train_config_uses_model_specific_settings():
    params = resolve_params("quick", {"m4_epochs": 1, "epochs": 5})
    assert params.train_config("m4", "study").epochs == 1
    assert params.train_config("m2", "study").epochs == 5
    assert params.train_config("m2", "study").weights == "none"
