# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,mystnb,-all
#     notebook_metadata_filter: kernelspec,xray_book,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   xray_book:
#     reads_runs: true
# ---

# %% [markdown]
# # 6. Evaluation: four models side by side, and the leak measured
#
# The model chapters each trained one model. Here we put them next to each other and
# next to the numbers the original study published, ask which differences are real,
# and measure what steering training with the test set did to the scores.
#
# **Learning goals**
#
# - rebuild the study's results table and compare it with the published one;
# - read accuracy with its uncertainty, per-class reports, confusion matrices and ROC
#   curves;
# - design an experiment that isolates one cause (the leak) and read its result.

# %% tags=["remove-cell"]
# In Google Colab: install this book's package (release 0.1.0) first.
# Colab's own TensorFlow, NumPy and Jupyter stay as they are; Keras moves to the 3.15 line the book is tested with.
import importlib.metadata
import subprocess
import sys

PACKAGE, VERSION = "xray-cnn-book @ git+https://github.com/xray-cnn-book/xray-cnn-book@v0.1.0", "0.1.0"
try:
    installed = importlib.metadata.version("xray-cnn-book")
except importlib.metadata.PackageNotFoundError:
    installed = None
if "google.colab" in sys.modules and installed != VERSION:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PACKAGE], check=True)
    print(
        "Installed xray-cnn-book. Without data the chapters run on a synthetic stand-in (every output says so); "
        "for the real X-rays run `from xray_utils.data import download; download()` in a cell. "
        "The full profile wants a GPU: Runtime > Change runtime type."
    )

# %% tags=["parameters", "remove-cell"]
profile = "quick"  # a named profile: xray_utils/profiles/quick.yaml or full.yaml
overrides = {}  # profile values to change, e.g. {"epochs": 12}

# %%

import pandas as pd

from xray_utils import data, evaluation, full_study, narrative, page, plan, plots

params = plan.collect(globals())  # this build's settings: the profile above and its overrides
images = plan.open_data(params)

# %% tags=["remove-input"]
page.show_banner(images.synthetic)
glue = page.Glue()  # this run's numbers, for the prose that quotes them

# %% [markdown]
# ## The runs
#
# Nothing is retrained here: each model chapter saved a run folder (model, history,
# split, test predictions, versions), and this chapter reads them. A run is missing
# only if its chapter was skipped; it is then trained now, with a note (under the
# `full` profile the chapter stops instead, naming the `xray-book train` command that
# makes it: hours of training on a CPU should never start by surprise).

# %%
runs = plan.load_runs(params, images)
study_runs = {key: run for key, run in runs.items() if key[1] == "study"}
full = full_study.load_full_study()  # the committed full-scale runs (numbers only), or None
for (model, protocol), run in runs.items():
    print(
        f"{model:>3} / {protocol:<12} {run.name}  ({run.metrics['epochs_run']} epochs, "
        f"{run.environment['backend']} backend)"
    )

# %% tags=["nbval-check-output", "remove-cell"]
print(sorted(runs), {run.metrics["test_images"] for run in runs.values()})

# %% [markdown]
# Every run was scored on the same test images (the study's 20 % split).
#
# ## The study's table, and the published one
#
# The original notebook printed test loss and accuracy for each model (on the test
# set it also used for validation, after epoch 50). Our rows use the same protocol.
# The 95 % interval is the exact (Clopper-Pearson) binomial interval for an accuracy
# measured on this many test images: it says how far the accuracy on *other* images
# from the same source could plausibly lie. It is a statement about *one* model.
# Whether two models differ is another question, with its own test: both were scored
# on the same images, so the paired test (McNemar's, chapter 7) asks how often one is
# right where the other is wrong. Two intervals can overlap while the paired test
# finds a clear difference, and overlap is not what any test measures. (Chapter 7
# also computes bootstrap intervals and compares them with these.)

# %%
table = evaluation.results_table(study_runs)
labels = {model: full_study.model_label(run) for (model, _), run in study_runs.items()}
page.show_table(evaluation.results_summary({labels[m]: run for (m, _), run in study_runs.items()}))

# %% tags=["remove-input"]
glue("build_spread", narrative.build_spread_sentence(params, table, images.synthetic))
glue.prose("{build_spread}")

# %% mystnb={"image": {"alt": "Test accuracy of each model with its 95 % interval, next to the accuracy the original study published."}}
plots.accuracy_comparison(table, synthetic=images.synthetic, full=full.study_runs() if full else None);
# %% [markdown]
# ## Classification reports
#
# Accuracy averages over classes; the reports below show each class's precision and
# recall. The study's Model 3 had normal recall 0.28: invisible in a single accuracy
# number, obvious here.

# %%
reports = {labels[m]: evaluation.report_frame(run).drop(index=["macro avg", "weighted avg"]) for (m, _), run in study_runs.items()}
page.show_table(pd.concat(reports, names=["model", "class"]), 3)

# %% mystnb={"image": {"alt": "Confusion matrices of the four models on the test set, two to a row."}}
plots.confusion_grid({labels[m]: r for (m, _), r in study_runs.items()}, synthetic=images.synthetic);
# %% [markdown]
# ## ROC curves and AUC
#
# Each class against the other two: the curve traces true-positive against
# false-positive rate as the decision threshold moves. The area under it (AUC) is the
# chance that a random image of the class scores higher than a random image of
# another class. The original study reported none of this.

# %% mystnb={"image": {"alt": "One-vs-rest ROC curves per class for each of the four models."}}
plots.roc_grid({labels[m]: r for (m, _), r in study_runs.items()}, synthetic=images.synthetic);
# %%
page.show_table(evaluation.auc_table(study_runs))

# %% [markdown]
# ## Measuring the leak
#
# The study passed its test set to `fit` as validation data (chapter 2): the test
# images decided when the learning rate fell, and were then reported as unseen. How
# much did that inflate the scores? Comparing the study's runs with "a corrected
# recipe" answers a different question if the two differ in several ways at once
# (how many images train, which images steer, when training stops, which epoch is
# kept). So the book runs three protocols with the *same* recipe (the study's 50
# epochs, its schedule, its last epoch), the same seed and the same test images:
#
# - `study` trains on 80 % and is steered by the test set: the original;
# - `test_steered` trains on 70 % and is steered by the test set;
# - `corrected` trains on the *same* 70 % and is steered by the 10 % the other two
#   leave out of training; nothing touches the test set until it is scored.
#
# `test_steered` against `corrected` changes one thing only, the steering images: their
# difference on the test set is the leak. `study` against `test_steered` changes only
# the amount of training data. In this build's data:

# %% mystnb={"image": {"alt": "Three bars, one per protocol, showing how many images train, steer the learning rate, are set aside, and are scored."}}
plots.split_diagram(
    {p: data.make_split(p, images.labels, params.seed) for p in data.PROTOCOLS}, synthetic=images.synthetic
);
# %% [markdown]
# The first table gives, per model, the three test accuracies and `more_data` =
# study − test_steered. The second gives the leak, test_steered − corrected, in
# accuracy points with its paired 95 % interval (Newcombe's method for two
# proportions measured on the same images), how many test images changed verdict
# between the two runs, McNemar's exact p-value (chapter 7), the smallest leak this
# test set would detect four times in five, and whether the two runs were identical
# by construction: when the rate fell in the same epochs under both steering sets,
# the runs trained identically and say nothing about the leak. This build first:

# %%
comparison = evaluation.protocol_comparison(runs)
if comparison.empty:
    print(
        f"This build ran the protocols {params.protocols}: the leak needs both test_steered and corrected "
        "runs of a model, so it is not measured here. The full study below measures it."
    )
else:
    page.show_table(comparison[["study", "test_steered", "corrected", "more_data"]])
    page.show_table(evaluation.leak_view(comparison))

# %% tags=["remove-input"]
if not comparison.empty:
    identical = comparison["same_schedule"].astype(bool) & (comparison["images_changed"] == 0)
    if identical.all():
        glue("build_leak", "In this build every pair trained identically (the learning rate fell in the same epochs, or never, under both steering sets), so this build measures no leak at all: that takes runs long enough for the steering images to change the schedule.")
    else:
        glue("build_leak", f"In this build {int((~identical).sum())} of {len(identical)} models' pairs differ; their intervals say how large a leak the data allow.")
    glue.prose("{build_leak}")

# %% [markdown]
# Small profiles train briefly on few images: expect their differences to be noise.
# The full study, trained on a GPU with the study's settings (below), measured the
# same thing at full scale, with two more seeds for Models 1 and 3:

# %%
seed_runs = full_study.load_seed_runs(full) if full else {}
if full:
    by_seed = evaluation.leak_by_seed(seed_runs)
    page.show_table(evaluation.leak_view(by_seed))
else:
    print("No full-study results found in results/full.")

# %% tags=["remove-input"]
if full:
    pooled = evaluation.leak_summary(evaluation.leak_pairs(seed_runs))
    for name in ("pairs", "pairs_identical", "pairs_pooled", "images_changed", "test_images"):
        glue(name, pooled[name])
    for name in ("leak", "leak_low", "leak_high", "detectable_leak"):
        glue(name, pooled[name] * 100)
    glue("leak_p", pooled["leak_p"])
    more = evaluation.protocol_comparison(full.runs)["more_data"].dropna() * 100
    glue("more_data_min_points", float(more.min()))
    glue("more_data_max_points", float(more.max()))
    glue.prose(
        """
Of the full study's {pairs} pairs (models and seeds), {pairs_identical} trained identically by
construction (the same schedule under both steering sets, no test image changed): they carry
no information about the leak and are left out. Pooled over the other {pairs_pooled}
({test_images:,} image-pairs, {images_changed} of them discordant), steering with the test
set moved test accuracy by {leak:+.2f} points, 95 % interval {leak_low:+.2f} to
{leak_high:+.2f} (McNemar p = {leak_p:.3f}; approximate, since every pair is scored on the
same test images). "Not significant" is weak evidence here: with this few discordant images,
a leak needs to be about {detectable_leak:.2f} points before this test set would detect it
four times in five, so a leak smaller than that could hide in these data. Ten per
cent more training images (`more_data`) moved accuracy by between {more_data_min_points:+.2f}
and {more_data_max_points:+.2f} points.
"""
    )

# %% [markdown]
# Why so small? In this recipe the steering images act only through *when* the
# learning rate falls, and any set of a few hundred images from the same source
# tends to stall at about the same epochs. Where the schedules do part, the runs
# differ:

# %% mystnb={"image": {"alt": "Learning rate per epoch of Model 1 in the full study, steered by the test set and by the validation set."}}
if full and ("m1", "test_steered") in full.runs and ("m1", "corrected") in full.runs:
    plots.rate_schedules(
        {"m1, steered by the test set": full.runs[("m1", "test_steered")],
         "m1, steered by the validation set": full.runs[("m1", "corrected")]},
        "Model 1, full study: where the two schedules part",
    )  # fmt: skip

# %% [markdown]
# What this does and does not show:
#
# - Steering the *schedule* with the test set cost this study little. It is still a
#   flaw: the reported number is no longer an estimate made on unseen images, and
#   nobody could know the effect was small without running an experiment like this.
# - Leaks that choose more (the best epoch, the architecture, the hyperparameters)
#   are larger. The study compared four models on the same test set it reported and
#   wrote up the best: choosing among models by test score is a selection on the test
#   set too, and no experiment here undoes it. An untouched final test set, used
#   once, is the only protection.
# - Seed-to-seed differences (chapter 4 shows Model 3's) can dwarf the leak: a single
#   run per model cannot rank two models whose difference is smaller than what a
#   change of seed does, whatever their intervals look like.

# %% [markdown]
# ## The full study
#
# Everything above the leak section comes from this build's runs, with the profile
# it ran. The study's own settings (192×192 inputs, every image, 50 epochs) take a
# GPU, so the repository carries the full-scale runs as numbers (`results/full/`:
# test predictions, histories, splits; no weights, no pixels). Each run folder is
# checked before use: its key must follow from its configuration and data, and its
# file list must be the data it claims. These are the numbers to compare with the
# published ones.

# %%
print(full.describe() if full else "No full-study results found in results/full.")

# %% tags=["remove-input"]
if full:
    glue("full_data", full.data_sentence())
    glue("full_gaps", narrative.published_gaps_summary(full))
    glue.prose("{full_data}")

# %%
if full:
    full_labels = {m: full_study.model_label(r) for (m, _), r in full.study_runs().items()}
    page.show_table(evaluation.results_summary({full_labels[m]: r for (m, _), r in full.study_runs().items()}))

# %% tags=["remove-input"]
if full:
    glue.prose("{full_gaps}")

# %% mystnb={"image": {"alt": "Confusion matrices of the four models in the full study (192x192 inputs, every image, 50 epochs)."}}
if full:
    plots.confusion_grid({full_labels[m]: r for (m, _), r in full.study_runs().items()})

# %% mystnb={"image": {"alt": "One-vs-rest ROC curves per class for each of the four models in the full study."}}
if full:
    plots.roc_grid({full_labels[m]: r for (m, _), r in full.study_runs().items()})

# %% [markdown]
# ## Summary
#
# - The table reproduces the study's comparison, with uncertainty it never showed.
# - Per-class reports and confusion matrices reveal failures that accuracy hides.
# - Two runs that differ in one thing only isolate that thing's effect: here, the
#   effect of steering the schedule with the test set, which the full study measured.
# - High scores on this dataset still say little about hospitals, ages and scanners
#   the model has not seen: chapter 8 measures that confound.
#
# ## Exercises
#
# **Exercise 1.** How many test images would it take for the 95 % intervals of a 97 %
# and a 98 % model to stop overlapping? Try test-set sizes until they separate. (Then
# read the note after the solution: why that is the wrong way to compare two models.)

# %% tags=["solution"]
# solution: the smallest test set on which the intervals of 0.97 and 0.98 no longer overlap
def intervals_overlap(n: int) -> bool:
    low_98, _ = evaluation.accuracy_interval(round(0.98 * n), n)
    _, high_97 = evaluation.accuracy_interval(round(0.97 * n), n)
    return low_98 <= high_97


n = 100
while intervals_overlap(n):
    n += 100
print(f"about {n:,} test images (the study had 778)")

# %% [markdown]
# Non-overlap is a far stricter bar than a test: two 95 % intervals can overlap while
# the difference between the two accuracies is still clearly non-zero, so waiting for
# separation wastes images. And two models scored on the *same* test images are
# compared best by a paired test, which looks only at the images where they disagree:
# McNemar's, as exercise 3 and chapter 7 do.

# %% [markdown]
# **Exercise 2.** Pick this build's model with the lowest COVID recall. Which class
# do its missed COVID images go to?

# %% tags=["solution"]
# solution: evaluation.report_frame(run).loc["COVID", "recall"] for each study run, then evaluation.confusion
recalls = {m: evaluation.report_frame(r).loc["COVID", "recall"] for (m, _), r in study_runs.items()}
worst = min(recalls, key=recalls.get)
missed = evaluation.confusion(study_runs[(worst, "study")]).loc["COVID"].drop("COVID")
print(f"{worst}: COVID recall {recalls[worst]:.3f}; missed COVID images went to {missed.to_dict()}")

# %% [markdown]
# **Exercise 3.** For Model 1 in the full study, which test images changed verdict
# between `test_steered` and `corrected`? Count how many each arm got right that the
# other got wrong.

# %% tags=["solution"]
# solution: compare the two runs' predictions (run.predictions()) image by image
if full and ("m1", "corrected") in full.runs:
    right = {}
    for protocol in ("test_steered", "corrected"):
        saved = full.runs[("m1", protocol)].predictions()
        right[protocol] = saved["y_prob"].argmax(1) == saved["y_true"]
    only_steered = int((right["test_steered"] & ~right["corrected"]).sum())
    only_corrected = int((~right["test_steered"] & right["corrected"]).sum())
    print(f"right only when steered by the test set: {only_steered}; right only when not: {only_corrected}")
    print(f"McNemar p = {evaluation.mcnemar_exact(right['test_steered'], right['corrected'])['p_value']:.3f}")
