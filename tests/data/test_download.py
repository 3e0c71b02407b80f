import importlib

import pytest
from helpers import make_tree

from xray_utils import data
from xray_utils.errors import DownloadError


def test_download_failure_tells_the_user_what_to_do(tmp_path, monkeypatch):
    import kagglehub

    def offline(handle):
        raise ConnectionError("no network")

    monkeypatch.setattr(kagglehub, "dataset_download", offline)
    with pytest.raises(DownloadError, match="kaggle.com/datasets/tawsifurrahman.*XRAY_DATA_DIR"):
        data.download(tmp_path / "data")


def test_downloaded_folder_is_linked_and_found(tmp_path, monkeypatch):
    import kagglehub

    fetched = tmp_path / "kagglehub-cache" / "versions" / "5"
    make_tree(fetched)
    calls = []
    monkeypatch.setattr(kagglehub, "dataset_download", lambda handle: calls.append(handle) or str(fetched))
    target = data.download(tmp_path / "data")
    assert calls == [data.KAGGLE_HANDLE]
    index = data.find_dataset(target)
    assert index.release == "2021" and len(index) == 9


def test_resolve_dataset_tries_download_before_synthetic(tmp_path, monkeypatch):
    import kagglehub

    fetched = tmp_path / "fetched"
    make_tree(fetched)
    monkeypatch.setattr(kagglehub, "dataset_download", lambda handle: str(fetched))
    monkeypatch.setattr("xray_utils.data.layout.default_data_dir", lambda: tmp_path / "data")
    download_module = importlib.import_module("xray_utils.data.download")  # the package exports a function of that name
    monkeypatch.setattr(download_module, "default_data_dir", lambda: tmp_path / "data")
    index = data.resolve_dataset(allow_download=True)
    assert not index.synthetic and len(index) == 9
