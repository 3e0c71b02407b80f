"""Sentences about what happened in a run, computed from the run.

A chapter's prose may only say what is true for the run beside it, on any
machine, seed or data. What depends on the run (did the learning rate fall? did
two protocols train identically? does a published number lie inside the
reproduced interval?) is said by these functions, which look first and choose
their words after. Each returns Markdown (MyST roles allowed) for
:meth:`xray_utils.page.Glue.prose`.
"""

from __future__ import annotations

from .evaluation import leak_test, rate_cuts, run_scores
from .full_study import FullStudy, model_label
from .params import ChapterParams
from .published import PUBLISHED, STUDY_IMAGES, STUDY_TEST_IMAGES
from .run_folders import Run
from .spread import quick_spread


def _epochs(epochs: list[int]) -> str:
    words = [str(e) for e in epochs]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def schedule_sentence(study: Run, which: str = "this run") -> str:
    """Whether, and when, the test images cut the learning rate of a ``study``-protocol run (``which``: how to name it)."""
    cuts = rate_cuts(study)
    epochs = int(study.metrics.get("epochs_run") or len(study.history))
    if not cuts:
        return (
            f"In {which} the learning rate was never cut: in {epochs} epochs the steering accuracy never "
            "stalled for three epochs in a row, so the test images decided nothing about its training."
        )
    return (
        f"In {which} the learning rate fell before epoch{'s' if len(cuts) > 1 else ''} {_epochs(cuts)}: each cut came after three epochs "
        "without a better test accuracy, so the test images decided it."
    )


def arms_sentence(runs: dict[str, Run]) -> str:
    """What the ``test_steered`` and ``corrected`` runs of one model show (``runs``: ``{protocol: Run}``).

    Empty when the model has not both runs.
    """
    if "test_steered" not in runs or "corrected" not in runs:
        return ""
    leak = leak_test(runs["test_steered"], runs["corrected"])
    if leak["same_schedule"] and leak["images_changed"] == 0:
        cuts = rate_cuts(runs["test_steered"])
        when = "never fell in either" if not cuts else f"fell before the same epoch(s) ({_epochs(cuts)}) in both"
        return (
            f"`test_steered` and `corrected` score the same here ({leak['corrected']:.4f}), and that is no "
            f"coincidence: the learning rate {when}, so the two runs, which differ only in the images that steer "
            "the rate, trained identically. The leak can only show where the steering images change the schedule."
        )
    return (
        f"`test_steered` scores {leak['test_steered']:.4f} and `corrected` {leak['corrected']:.4f}: "
        f"{leak['images_changed']} test images change verdict between them. Chapter 6 asks whether that "
        "difference is more than chance."
    )


def _published_position(run: Run, model: str) -> tuple[float, float, float, str]:
    """(published accuracy, reproduced interval low, high, "inside"/"above"/"below") of one study-protocol run."""
    scores = run_scores(run)
    published = float(PUBLISHED.loc[model, "published_test_accuracy"])
    low, high = scores["ci95_low"], scores["ci95_high"]
    return published, low, high, "inside" if low <= published <= high else ("above" if published > high else "below")


def _gap_reasons(full: FullStudy, random_m4: bool, one_model: bool) -> str:
    """The reasons that can be shown why a published accuracy lies outside a reproduced interval."""
    counts = full.data_accounting()
    test_sets = f"the test sets differ ({counts['test_images']:,} images here, {STUDY_TEST_IMAGES:,} in the study"
    reasons = [
        test_sets + (f", from {counts['images']:,} images rather than {STUDY_IMAGES:,})" if one_model else ")"),
        f"{'the' if one_model else 'an'} interval covers the test images drawn, not the seed, the hardware or the code",
    ]
    if random_m4:
        reasons.append("this model 4 started from random weights, the study's from CheXNet")
    return "Reasons that can be shown: " + "; ".join(reasons) + "."


def _random_m4(run: Run, model: str) -> bool:
    return model == "m4" and run.config.get("weights_used") == "none"


def published_gap_sentence(full: FullStudy | None, model: str) -> str:
    """Whether the study's published accuracy lies inside the reproduced full-study interval, and why it may not."""
    if full is None or (model, "study") not in full.runs:
        return ""
    run = full.runs[(model, "study")]
    published, low, high, where = _published_position(run, model)
    sentence = (
        f"The study published {published:.4f}; the reproduction's 95 % interval is {low:.4f} to {high:.4f}, "
        f"so the published number lies {where} it."
    )
    return sentence if where == "inside" else f"{sentence} {_gap_reasons(full, _random_m4(run, model), one_model=True)}"


def full_scale_sentence(full: FullStudy | None, model: str) -> str:
    """What the full-scale run of ``model`` is (scale, weights, data) and which of its runs are missing."""
    if full is None:
        return "No full-study results were found in `results/full`, so this chapter shows this build's runs only."
    if (model, "study") not in full.runs:
        return f"The full study has no `study` run of {model}."
    run = full.runs[(model, "study")]
    missing = [protocol for m, protocol in full.missing if m == model]
    sentence = (
        f"{model_label(run)}, study protocol, at {full.scale(model)} ({full.source.get('date', 'date unknown')}). "
        f"{full.data_sentence()}"
    )
    if missing:
        sentence += (
            f" The full study has no {' or '.join(f'`{p}`' for p in missing)} run of this model, so at full scale its "
            "leak is not measured."
        )
    return sentence


def _spread_applies(params: ChapterParams) -> bool:
    """The committed spread was measured for the quick profile as it stands: no other profile, no overrides."""
    return params.profile == "quick" and not params.overrides()


def spread_sentence(params: ChapterParams, model: str, run: Run, synthetic: bool, protocol: str = "study") -> str:
    """This build's accuracy beside the quick profile's measured seed spread (``results/quick-seeds``).

    Says nothing it cannot back: on the synthetic stand-in, under another profile
    or with overrides, or without a committed spread, it says why no spread is shown.
    """
    spread = quick_spread()
    accuracy = run_scores(run)["test_accuracy"]
    if not _spread_applies(params):
        return "How much this profile's numbers vary with the seed has not been measured; the quick profile's has."
    if spread is None:
        return "No seed spread was found in `results/quick-seeds`, so this number stands without one."
    low, high, seeds = spread.range_of(model, protocol)
    measured = (
        f"With {seeds} seeds, the quick profile on the real data gave this model {low:.3f} to {high:.3f} "
        f"under the {protocol} protocol (measured on {spread.machine})."
    )
    if synthetic:
        return measured + " This build runs on the synthetic stand-in, so its number is not comparable with that range."
    where = "inside" if low <= accuracy <= high else ("above" if accuracy > high else "below")
    return (
        f"{measured} This build's {accuracy:.3f} lies {where} that range. The seed changes the images drawn, the "
        "split and the first weights, and machines with other CPU kernels round differently, so a run of your own "
        "lands somewhere in such a range, not on this build's number."
    )


def collapse_sentence(run: Run, title: str, threshold: float = 0.5) -> str:
    """Names each class a run finds less than ``threshold`` of, and where those images went; empty if none."""
    from .evaluation import confusion

    counts = confusion(run)
    found = []
    for name in counts.index:
        total = int(counts.loc[name].sum())
        hits = int(counts.loc[name, name])
        if total and hits / total < threshold:
            others = counts.loc[name].drop(name)
            found.append(f"{hits} of {total} {name} test images (most of the rest called {others.idxmax()})")
    if not found:
        return ""
    epochs = int(run.metrics.get("epochs_run") or len(run.history))
    return (
        f"{title} found only {'; '.join(found)}. After {epochs} epoch{'s' if epochs != 1 else ''} at "
        f"{run.config['image_size']} px it has not learned to tell that class apart: this says what so short a "
        "run can do, not what the architecture can."
    )


def weights_lesson_sentence(full: FullStudy | None, model: str = "m4") -> str:
    """What the full-scale model 4 started from, and what its accuracy then says (empty without the run)."""
    if full is None or (model, "study") not in full.runs:
        return ""
    run = full.runs[(model, "study")]
    accuracy = run_scores(run)["test_accuracy"]
    if run.config.get("weights_used") != "none":
        return f"The full study's {model_label(run)} reached {accuracy:.3f}."
    published = float(PUBLISHED.loc[model, "published_test_accuracy"])
    gap = published - accuracy
    if gap > 0.03:
        return (
            f"The full study's model 4 started from random weights, not from CheXNet, and reached {accuracy:.3f}, "
            f"below the study's {published:.3f} with CheXNet weights."
        )
    compared = "almost as well as" if gap > 0 else "as well as"
    return (
        f"The full study's model 4 also started from random weights, not from CheXNet, and still reached "
        f"{accuracy:.3f} (the study, with CheXNet weights: {published:.3f}): a DenseNet121 that had never seen an "
        f"X-ray before this data separates these classes of this collection {compared} the pretrained one. "
        "Pretraining on 112,120 chest X-rays was not what this task rewarded; chapter 8 asks what is."
    )


def full_spread_sentence(seed_runs: dict) -> str:
    """How far the full-scale runs of one model lie apart across seeds and protocols (``{(model, protocol, seed): Run}``).

    Names each model with more than one run; empty when none has.
    """
    by_model: dict[str, list[float]] = {}
    seeds: dict[str, set] = {}
    for (model, _protocol, seed), run in seed_runs.items():
        by_model.setdefault(model, []).append(run_scores(run)["test_accuracy"])
        seeds.setdefault(model, set()).add(seed)
    parts = [
        f"model {model[1:]} between {min(values):.3f} and {max(values):.3f} ({len(values)} runs, "
        f"{len(seeds[model])} seed{'s' if len(seeds[model]) > 1 else ''})"
        for model, values in sorted(by_model.items())
        if len(values) > 1
    ]
    if not parts:
        return ""
    return (
        "One full-scale run per model is one draw: across the committed full-scale runs (protocols and seeds), "
        "the same code gave " + "; ".join(parts) + "."
    )


def build_spread_sentence(params: ChapterParams, table, synthetic: bool) -> str:
    """This build's study-protocol accuracies beside the quick profile's measured seed spread, one clause per model."""
    spread = quick_spread()
    if table is None or spread is None or not _spread_applies(params):
        return ""
    parts = []
    for row in table.itertuples():
        low, high, seeds = spread.range_of(row.model, row.protocol)
        where = "" if synthetic else (" (inside)" if low <= row.test_accuracy <= high else " (outside)")
        parts.append(f"model {row.model[1:]} {low:.3f} to {high:.3f}{where}")
    head = (
        f"This build's numbers depend on the seed and the machine: with {seeds} seeds on the real data "
        f"({spread.machine}), the quick profile gave " + "; ".join(parts) + "."
    )
    if synthetic:
        return head + " This build runs on the synthetic stand-in, so its numbers are not comparable with those."
    return head + " A run of your own lands somewhere in such a range, not on this build's number."


def published_gaps_summary(full: FullStudy | None) -> str:
    """One sentence for all models: which published accuracies lie outside the reproduced intervals, and why they may."""
    if full is None:
        return ""
    outside, random_m4 = [], False
    for (model, _), run in full.study_runs().items():
        published, low, high, where = _published_position(run, model)
        if where != "inside":
            outside.append(
                f"model {model[1:]}'s {published:.4f} lies {where} its reproduced interval ({low:.4f} to {high:.4f})"
            )
            random_m4 |= _random_m4(run, model)
    if not outside:
        return "Every published accuracy lies inside its reproduced 95 % interval."
    return "Against the study: " + "; ".join(outside) + ". " + _gap_reasons(full, random_m4, one_model=False)


def _names(models) -> str:
    """ "Model 1, Model 2 and Model 4" for ``["m1", "m2", "m4"]``."""
    words = [f"Model {model[1:]}" for model in models]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _study_evidence(committed: dict) -> dict:
    """``{model: Evidence}`` of the study-protocol runs in ``committed`` (``FullStudy.evidence()``)."""
    return {model: found for (model, protocol), found in committed.items() if protocol == "study"}


def full_evidence_sentence(full: FullStudy | None, committed: dict, held_out=None) -> str:
    """What the committed full-scale evidence of chapter 8 covers; when there is none, that and the command that makes it.

    ``committed``: :meth:`FullStudy.evidence`; ``held_out``: this build's held-out
    :class:`~xray_utils.data.ImageSet` (None: it has none).
    """
    from .evidence import EVIDENCE_COMMAND, GPU_SCRIPT

    if full is None:
        return (
            "No full-study results were found in `results/full`, so there is nothing to set beside this build's models."
        )
    found = _study_evidence(committed)
    if not found:
        return (
            "The committed full study holds no shortcut evidence yet: its run folders were copied without their "
            "models, so the three tests cannot be run on them here. They are run where the full-profile models are, "
            f"by `{EVIDENCE_COMMAND}` (`{GPU_SCRIPT}` trains the study-protocol models on a GPU and runs it, see "
            "`results/full/README.md`); once the runs' `evidence/` folders are committed to `results/full`, this "
            "section sets them beside this build's."
        )
    first = next(iter(found.values()))
    grids = ", ".join(f"Model {m[1:]} {'×'.join(map(str, e.meta['grid']))}" for m, e in found.items())
    which = f"; {model_label(full.runs[('m4', 'study')])}" if "m4" in found else ""
    sentence = (
        f"{full.data_sentence()} The full study's {_names(found)} ({full.scale(next(iter(found)))}{which}) were put "
        "to this chapter's tests where they were trained, with the same code and the same samples: occlusion on "
        f"{int(first.occlusion['images'].iloc[0]):,} test images, Grad-CAM on each model's last convolutional grid "
        f"({grids})"
    )
    record = first.meta.get("held_out")
    if not record:
        return sentence + ", and no held-out set (their data had none)."
    counts = ", ".join(f"{n:,} {name}" for name, n in record["counts"].items() if n)
    sentence += f", and a held-out set of {record['images']:,} images ({counts})."
    missing = sorted(m for (m, p) in full.study_runs() if m not in found)
    if missing:
        sentence += f" {_names(missing)} {'has' if len(missing) == 1 else 'have'} no committed evidence."
    if held_out is None:
        return sentence + " This build has no held-out set, so the held-out rows are the full study's alone."
    if held_out.fingerprint != record["fingerprint"]:
        return sentence + f" This build's held-out set is other images ({len(held_out):,}): compare shares, not counts."
    return sentence + " This build's held-out set is the same images."


def full_shortcut_sentence(committed: dict, build_called: dict[str, float] | None = None) -> str:
    """What the full-scale models call the held-out adult normals, beside this build's, and what that says.

    ``build_called``: ``{model: share of adult normals this build's model called COVID}``.
    """
    from .stats import accuracy_interval

    found = _study_evidence(committed)
    shares = {m: e.called_covid("Normal") for m, e in found.items() if e.called_covid("Normal") is not None}
    if not shares:
        return ""
    parts = [
        f"Model {m[1:]} {share:.0%}"
        + (f" (this build's: {build_called[m]:.0%})" if build_called and m in build_called else "")
        for m, share in shares.items()
    ]
    sentence = (
        "At full scale the models called these shares of the held-out adult normals COVID: " + "; ".join(parts) + "."
    )
    strong = [m for m, share in shares.items() if share >= 0.5]
    if strong:
        sentence += (
            f" So the shortcut is not an artefact of the small demonstration models: {_names(strong)} "
            f"{'shows' if len(strong) == 1 else 'show'} it at the study's scale."
        )
    elif max(shares.values()) < 0.1:
        sentence += (
            " At the study's scale the models keep the adult normals normal: on this held-out set the shortcut "
            "does not show."
        )
    else:
        sentence += " The shortcut is there at the study's scale, if for fewer than half of the adult normals."
    chance = 1 / len(next(iter(found.values())).class_names)
    above = [
        m for m, e in found.items()
        if accuracy_interval(round(e.occlusion["chest hidden"].iloc[0] * e.occlusion["images"].iloc[0]),
                             int(e.occlusion["images"].iloc[0]))[0] > chance
    ]  # fmt: skip
    return sentence + (
        f" With the chest hidden, {len(above)} of the {len(found)} full-scale models "
        f"{'stays' if len(above) == 1 else 'stay'} above chance (the lower end of the exact 95 % interval above {chance:.2f})."
    )


def full_maps_sentence(committed: dict, drawn: dict, synthetic: bool) -> str:
    """Whether the committed Grad-CAM maps could be drawn over the reader's own copies of their images.

    ``drawn``: ``{(model, part): (maps drawn, maps committed)}`` as the chapter drew them.
    """
    found = _study_evidence(committed)
    if not found:
        return ""
    total = sum(len(e.maps) for e in found.values())
    if synthetic:
        return (
            "This build runs on the synthetic stand-in, whose file names only look like the real ones, so the full "
            f"study's {total:,} committed maps, which belong to real X-rays, are not drawn; the tables need no images."
        )
    shown = sum(n for n, _ in drawn.values())
    if not shown:
        return (
            f"The full study's {total:,} committed maps need the images they were computed on, and none of the files "
            "they name is in this build's data or its held-out folder: with the COVID-19 Radiography Database in "
            "place they are drawn here. The tables need no images."
        )
    left = (
        f" {total - shown:,} of the named files are not in this build's data and are left out." if shown < total else ""
    )
    return (
        f"The galleries show {shown:,} of the full models' own Grad-CAM maps, computed on their last convolutional "
        "grid and stretched bilinearly over your copy of each image (found by file name), test images first, then "
        f"held-out ones.{left} A coarse grid still says where the score came from, not why."
    )


def evidence_state_sentence(committed: dict) -> str:
    """Where the chapter's three tests of the study-scale models stand: shown above, or still to be made."""
    if _study_evidence(committed):
        return (
            "The section *At full scale* above sets the same three tests of the full-profile models, computed where "
            "they were trained and committed as numbers, beside them."
        )
    return (
        "To say the same of models at the study's scale, the same three tests must run on the full-profile models, "
        "whose weights the repository does not carry: the section *At full scale* above says how they are made."
    )
