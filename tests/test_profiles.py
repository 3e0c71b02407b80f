"""Every profile's every model under every protocol it declares makes a valid training configuration.

`resolve_params` checks one model per family with the first protocol; the chapters
and `xray-book train` build the rest. A profile that names a protocol or size one
model cannot take would otherwise fail hours into a full-profile run.
"""

import pytest

from xray_utils.config import MODEL_NAMES, PROTOCOLS
from xray_utils.params import available_profiles, load_profile, resolve_params


def _configs(profile: str):
    params = resolve_params(profile)
    return params, [
        (model, protocol, params.train_config(model, protocol))
        for model in MODEL_NAMES
        for protocol in params.protocols_for(model)
    ]


@pytest.mark.parametrize("profile", available_profiles())
def test_every_model_and_protocol_of_the_profile_validates(profile):
    params, configs = _configs(profile)
    for model in MODEL_NAMES:
        assert params.protocols_for(model), f"{profile}: no protocol for {model}"
    for model, protocol, config in configs:
        assert protocol in PROTOCOLS
        assert (config.model, config.protocol) == (model, protocol)
        assert config.precision == params.precision and config.seed == params.seed
    declared = {(m, p) for m in MODEL_NAMES for p in params.protocols_for(m)}
    assert {(m, p) for m, p, _ in configs} == declared


def test_the_full_profile_is_the_study_for_every_run():
    params, configs = _configs("full")
    profile = load_profile("full")
    assert set(params.protocols) == set(profile["protocols"]) and set(params.m4_protocols) == set(
        profile["m4_protocols"]
    )
    assert len(configs) == sum(len(params.protocols_for(m)) for m in MODEL_NAMES)
    for model, _, config in configs:
        assert config.input_shape == (192, 192, 3), model
        assert (config.epochs, config.batch_size, config.per_class) == (50, 32, None), model
        assert config.weights == ("auto" if model.startswith("m4") else "none"), model  # m4, m4_clean: DenseNet121
    keys = {config.key("same data") for _, _, config in configs}
    assert len(keys) == len(configs), "two runs of the full profile would share a run folder"
