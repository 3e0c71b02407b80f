"""The few calls every chapter makes: check parameters, open the data, train or reuse runs.

Notebooks narrate; this module does. Every chapter's parameters cell is the same
two lines, and means the same in JupyterLab, under papermill and in ``xray-book``::

    profile = "quick"      # a named profile: xray_utils/profiles/<name>.yaml
    overrides = {}         # profile values to change, e.g. {"epochs": 12}

and its first code cell is::

    params = chapter.collect(globals())      # the profile, the overrides, checked
    images = chapter.open_data(params)       # real data if found, else the stand-in (with a banner)
"""

from __future__ import annotations

import html
import sys
from dataclasses import replace
from typing import Any

import pandas as pd

from . import data as xdata
from .config import CHAPTER_PARAMETERS, chapter_params, load_profile, protocols_for, train_config
from .errors import ConfigError, RunError
from .runs import Run, find_run

STUDY_MODELS = ("m1", "m2", "m3", "m4")


def collect(namespace: dict[str, Any]) -> dict[str, Any]:
    """A chapter's parameters from ``namespace`` (its ``globals()``), completed and checked.

    The named ``profile``'s values, then ``overrides`` (a dict), then any chapter
    parameter set by name (``papermill -p epochs 3`` injects such a name).
    """
    profile = namespace.get("profile", CHAPTER_PARAMETERS["profile"])
    overrides = namespace.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"overrides={overrides!r} is not allowed: use a dict such as {{'epochs': 12}}")
    named = {k: namespace[k] for k in CHAPTER_PARAMETERS if k in namespace and k != "profile"}
    return chapter_params(**{**load_profile(profile), **overrides, **named})


def glue(name: str, value: Any) -> Any:
    """Bind a number of this run to the chapter's prose; returns ``value``.

    In the book, ``{glue:text}`name``` in Markdown shows it (``name:.3f`` formats
    it). Outside a myst-nb build (a plain Jupyter or Colab kernel) nothing is shown.
    """
    plain = value.item() if hasattr(value, "item") else value  # NumPy scalars -> Python, for myst-nb
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, plain, display=False)
    return value


def _display(obj) -> None:
    try:
        from IPython.display import display

        display(obj)
    except ImportError:
        print(obj)


def show_code(*objects) -> None:
    """Show the source of package functions (highlighted): the code a chapter runs, not a copy of it."""
    import inspect

    source = "\n\n".join(inspect.getsource(obj) for obj in objects)
    try:
        from IPython.display import Code
    except ImportError:
        print(source)
        return
    _display(Code(source, language="python"))


def show_banner(synthetic: bool) -> None:
    """A loud warning box (HTML in the book, text in a terminal) when data is synthetic."""
    if not synthetic:
        return
    print(xdata.SYNTHETIC_BANNER, file=sys.stderr)
    try:
        from IPython.display import HTML

        _display(
            HTML(
                '<div class="admonition warning"><p class="admonition-title">Synthetic data</p>'
                f"<p>{html.escape(xdata.SYNTHETIC_BANNER)}</p></div>"
            )
        )
    except ImportError:
        pass


def open_data(params: dict[str, Any], image_size: int | None = None, *, banner: bool = True) -> xdata.ImageSet:
    """Find the dataset, take the profile's per-class subset, decode it (cached).

    ``image_size`` defaults to the profile's ``image_size``. Prints what was
    loaded, any notes about the folder and any unreadable files skipped.
    """
    index = xdata.resolve_dataset(params["data_dir"], subset=params["data_subset"])
    index = index.subset(params["per_class"], params["seed"])
    images = xdata.load_images(index, image_size or params["image_size"], params["channels"])
    if banner:
        show_banner(images.synthetic)
    for note in index.notes:
        print(f"note: {note}")
    for skipped in images.skipped:
        print(f"skipped unreadable file {skipped.file}: {skipped.reason}")
    print(images.describe())
    return images


def images_for(model: str, params: dict[str, Any], images: xdata.ImageSet) -> xdata.ImageSet:
    """``images`` if already at ``model``'s input size, else the same files at that size."""
    config = train_config(model, "study", params)
    if images.image_size == config.image_size:
        return images
    return open_data(params, config.image_size, banner=False)


def train_model(model: str, params: dict[str, Any], images: xdata.ImageSet) -> dict[str, Run]:
    """Train (or reuse) ``model`` under each of the chapter's protocols: ``{protocol: Run}``."""
    from .training import train

    images = images_for(model, params, images)
    return {
        protocol: train(
            train_config(model, protocol, params), images, runs_dir=params["runs_dir"], retrain=params["retrain"]
        )
        for protocol in protocols_for(model, params)
    }


def load_runs(
    params: dict[str, Any], images: xdata.ImageSet, models=STUDY_MODELS, train_missing: bool | None = None
) -> dict[tuple[str, str], Run]:
    """Finished runs of ``models`` for these parameters: ``{(model, protocol): Run}``.

    Runs come from the model chapters' run folders. A missing one is trained
    now (with a note saying so) if ``train_missing``, else :class:`RunError`
    naming the command that trains it. By default chapters that read runs never
    train under the ``full`` profile (hours on a CPU); under ``quick`` they do.
    """
    from .train_runs import train_command

    if train_missing is None:
        train_missing = params["profile"] != "full"
    found, missing = {}, []
    for model in models:
        model_images = images_for(model, params, images)
        for protocol in protocols_for(model, params):
            config = train_config(model, protocol, params)
            folder = find_run(config, model_images, params["runs_dir"])
            if (folder / "COMPLETE").is_file():
                found[(model, protocol)] = Run.load(folder)
            elif not train_missing:
                missing.append((model, protocol, folder))
            else:
                print(f"note: no finished run for {model}/{protocol}; training it now.")
                from .training import train  # imports Keras: only when something must be trained

                found[(model, protocol)] = train(config, model_images, runs_dir=params["runs_dir"])
    if missing:
        names = ", ".join(f"{m}/{p} ('{folder.name}')" for m, p, folder in missing)
        raise RunError(
            f"No finished run for {names} in '{missing[0][2].parent}'. Train with: "
            f"{train_command(params, sorted({m for m, _, _ in missing}))}"
        )
    return found


def show_table(frame: pd.DataFrame, digits: int = 4) -> None:
    """Display a table for reading: rounded, and without a meaningless 0, 1, 2... index."""
    frame = frame.round(digits)
    if isinstance(frame.index, pd.RangeIndex):
        frame = frame.set_index(frame.columns[0])
    _display(frame)


def study_results(params: dict[str, Any], images: xdata.ImageSet) -> pd.DataFrame | None:
    """The study-protocol results table of the four models, or None (with a note) if not all ran yet."""
    from . import evaluation

    try:
        runs = load_runs(params, images, train_missing=False)
    except RunError as missing:
        print(f"No results yet ({missing}). Run all chapters first: `make book`.")
        return None
    return evaluation.results_table({key: run for key, run in runs.items() if key[1] == "study"})


def open_external(params: dict[str, Any], images: xdata.ImageSet, image_size: int | None = None):
    """The held-out set (other hospitals, adults), or None with a printed note when there is none.

    Taken from ``external_dir`` if given, else from an ``external`` folder beside
    the dataset, else (2021 release, ``data_subset=study``) from the same
    download: adult normals and later-release COVID files that the study
    subset leaves out (:func:`xray_utils.data.shift_set`). Only COVID and
    Normal are required; labels keep the three classes.
    """
    if images.synthetic:
        print("note: the synthetic stand-in has no held-out hospitals; the external-data part is skipped.")
        return None
    index = _external_index(params, images)
    if index is None:
        return None
    held_out = xdata.load_images(index, image_size or params["image_size"], params["channels"])
    print(f"held-out set: {held_out.describe()}")
    return held_out


def _external_index(params: dict[str, Any], images: xdata.ImageSet) -> xdata.DatasetIndex | None:
    if params["external_dir"]:  # named by the user: a wrong path is an error, not a silent skip
        index = xdata.find_dataset(params["external_dir"], required=("COVID", "Normal"))
        return replace(index, data_subset="external", subset_reason=f"every file in external_dir ({index.root.name})")
    beside = images.root.parent / "external"
    if beside.is_dir():
        try:
            index = xdata.find_dataset(beside, required=("COVID", "Normal"))
        except xdata.DataError as missing:
            print(
                f"note: the 'external' folder beside the data is not a held-out set ({missing}); "
                "the external-data part is skipped."
            )
            return None
        return replace(
            index, data_subset="external", subset_reason="every file in the 'external' folder beside the data"
        )
    full = xdata.find_dataset(images.root)
    shifted = xdata.shift_set(full, xdata.select_subset(full, images.data_subset))
    if shifted is None:
        why = (
            "every file of this download is training data under data_subset=all"
            if images.data_subset == "all"
            else f"the {images.release} release has no other hospitals or adults"
        )
        print(
            f"note: no held-out set: {why}, and no `external_dir` or 'external' folder beside the data was found. "
            "Point `external_dir` at a folder of other hospitals' images to run this part."
        )
    return shifted
