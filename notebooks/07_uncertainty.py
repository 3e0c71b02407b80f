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
# # 7. Uncertainty and errors
#
# A test accuracy is a measurement on a few hundred images (the first cell below says
# how many in this run), and it comes with an error bar that the original study never
# drew. This chapter puts numbers on that uncertainty, asks which differences between
# the models are real, checks whether the models' stated confidence can be trusted, and
# looks at the mistakes made with most conviction.
#
# **Learning goals**
#
# - read bootstrap confidence intervals for accuracy, macro F1, sensitivity and
#   specificity, and know why they differ from chapter 6's exact ones;
# - test whether two models differ on the same images (McNemar), and adjust for
#   testing many pairs at once (Holm);
# - read a reliability diagram and the expected calibration error;
# - look at confident mistakes, not only at counts.

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

# %% [markdown]
# Nothing is trained here: the chapter reads the runs the model chapters saved (their
# test predictions), and compares the four models under the study's protocol.

# %%
import numpy as np
import pandas as pd

from xray_utils import evaluation, full_study, narrative, page, plan, plots

params = plan.collect(globals())  # this build's settings: the profile above and its overrides
images = plan.open_data(params)

# %% tags=["remove-input"]
page.show_banner(images.synthetic)
glue = page.Glue()  # this run's numbers, for the prose that quotes them
runs = plan.load_runs(params, images)
study_runs = {key: run for key, run in runs.items() if key[1] == "study"}
model_images = {model: plan.images_for(model, params, images) for model, _ in study_runs}
labels = {key: full_study.model_label(run) for key, run in study_runs.items()}  # e.g. "Model 4: DenseNet121, ..."
n_test = len(next(iter(study_runs.values())).predictions()["y_true"])
glue("n_test", n_test)
print(f"{len(study_runs)} study-protocol runs, each scored on the same {n_test} test images")

# %% [markdown]
# ## Bootstrap confidence intervals

# %%
resamples = 1000
glue("resamples", resamples)
intervals = evaluation.bootstrap_table(study_runs, resamples=resamples, seed=params.seed)
page.show_table(intervals.reset_index(), 3)

# %% tags=["remove-input"]
glue.prose(
    """
The {term}`bootstrap` {cite}`efron1979` asks: had we drawn another test set of the
same size from the same collection, how different would the scores be? It
imitates that by resampling the test set with replacement (within each class, so
the class sizes stay those of the {term}`stratified split`), recomputing every
metric, and repeating {resamples:,d} times: the middle 95 % of those
values is the interval. *Sensitivity* of a class is its {term}`recall` (of its
images, how many were found); {term}`specificity` is how many images of the other
classes were correctly *not* given that label.
"""
)

# %% tags=["remove-input"]
glue("build_spread", narrative.build_spread_sentence(params, evaluation.results_table(study_runs), images.synthetic))
glue.prose(
    """
Both resample *test images*; neither covers a change of seed, which redraws the images, the
split and the first weights. {build_spread}
"""
)

# %% tags=["nbval-check-output", "remove-cell"]
print(
    f"{len(intervals)} intervals: {intervals.index.get_level_values('metric').nunique()} metrics "
    f"x {intervals.index.get_level_values('run').nunique()} runs"
)

# %% [markdown]
# ### Two intervals for one accuracy
#
# Chapter 6 and the front page print another 95 % interval for the same accuracies:
# the exact {term}`Clopper-Pearson <Clopper-Pearson interval>` interval
# {cite}`clopper1934`. The two answer slightly different questions. Clopper-Pearson
# treats the test images as independent draws, each right or wrong, and is built from
# the binomial distribution so that it covers the true accuracy in *at least* 95 % of
# test sets: it errs on the wide side. The bootstrap needs no such formula: it works
# for any metric (macro F1 has no exact interval), keeps the class sizes fixed as the
# split did, and takes percentiles of the resampled values, which is close to 95 %
# coverage for large test sets and a little optimistic for small ones. Keeping the
# class sizes fixed also removes one source of spread that Clopper-Pearson counts:
# a test set with more images of the class the model finds hardest. The more the
# model's recall differs between classes, the narrower the bootstrap interval is than
# the exact one. Neither is wrong; report which one you used. The sentence after the
# table says how far apart the two are in this run.

# %%
exact = evaluation.results_table(study_runs, with_published=False)
bootstrap = intervals.xs("accuracy", level="metric")
side_by_side = pd.DataFrame(
    {
        "accuracy": exact["test_accuracy"].to_numpy(),
        "exact low": exact["ci95_low"].to_numpy(),
        "exact high": exact["ci95_high"].to_numpy(),
        "bootstrap low": bootstrap["ci_low"].to_numpy(),
        "bootstrap high": bootstrap["ci_high"].to_numpy(),
    },
    index=pd.Index(bootstrap.index, name="run"),
)
page.show_table(side_by_side, 3)

# %% tags=["remove-input"]
short = {f"{m}/{p}": evaluation.MODEL_TITLES[m].split(":")[0] for m, p in study_runs}  # "Model 1"
bound_gap = np.maximum(
    (side_by_side["exact low"] - side_by_side["bootstrap low"]).abs(),
    (side_by_side["exact high"] - side_by_side["bootstrap high"]).abs(),
)
gap_run = bound_gap.idxmax()
width_ratio = (side_by_side["bootstrap high"] - side_by_side["bootstrap low"]) / (
    side_by_side["exact high"] - side_by_side["exact low"]
)
predicted = study_runs[tuple(gap_run.split("/"))].predictions()
right = predicted["y_prob"].argmax(1) == predicted["y_true"]
recalls = np.array([right[predicted["y_true"] == c].mean() for c in np.unique(predicted["y_true"])])
sizes = np.array([(predicted["y_true"] == c).sum() for c in np.unique(predicted["y_true"])])
binomial = right.mean() * (1 - right.mean()) * len(right)  # variance of the count of right images
within = (sizes * recalls * (1 - recalls)).sum()  # the same, with the class sizes held fixed
glue("gap_max", bound_gap.max())
glue("bound_gaps", "; ".join(f"{short[k]} {g:.3f}" for k, g in bound_gap.items()))
glue("gap_model", labels[tuple(gap_run.split("/"))])
glue("gap_ratio", width_ratio[gap_run])
glue("recall_low", recalls.min())
glue("recall_high", recalls.max())
glue("between_share", 1 - within / binomial if binomial > 0 else 0.0)
glue("gap_expected", np.sqrt(within / binomial) if binomial > 0 else 1.0)
glue("narrower", int((width_ratio < 1).sum()))
glue(
    "gap_rest",
    "The rest of the gap is Clopper-Pearson's wide side."
    if width_ratio[gap_run] < np.sqrt(within / binomial if binomial > 0 else 1.0) - 0.02
    else "",
)

# %% tags=["remove-input"]
if bound_gap.max() < 0.005:
    glue.prose("""In this run the two agree to within {gap_max:.3f} at every bound: only the last digits differ.""")
else:
    glue.prose(
        """
In this run the bootstrap interval is the narrower for {narrower} of the
four models, and the largest difference between a bootstrap bound and the
exact one is, per model: {bound_gaps}. It is largest for {gap_model},
whose bootstrap interval is {gap_ratio:.0%} as wide as the exact one.
"""
    )
if bound_gap.max() >= 0.005 and width_ratio[gap_run] < 1:
    glue.prose(
        """
That model's recall runs from {recall_low:.2f} to {recall_high:.2f}
across the classes. Differences between the classes make up
{between_share:.0%} of the binomial variance of its count of right images;
the stratified bootstrap holds the class sizes fixed, so that part adds nothing to
its spread, and from this alone its interval would be about
{gap_expected:.0%} as wide as a binomial one. {gap_rest}
"""
    )

# %% [markdown]
# ### Intervals of width zero

# %%
widths = intervals["ci_high"] - intervals["ci_low"]
glue("zero_width", int((widths == 0).sum()))
glue("interval_count", len(intervals))
accuracy_widths = widths.xs("accuracy", level="metric")
glue("widest", accuracy_widths.max())
print(f"accuracy intervals from {accuracy_widths.min():.3f} to {accuracy_widths.max():.3f} wide")

# %% tags=["remove-input"]
glue.prose(
    """
Some rows may have `ci_low` equal to `ci_high` (this run: {zero_width}
of {interval_count} intervals). That is not certainty. When a model is
right on every test image of a class, or wrong on every one (a model that gives
every image the same label is both), every resample of that class's images gives
the same count, so the bootstrap sees no spread there; when that holds for every
class, even the accuracy interval has width zero. A new set of patients could still
hold the image the model gets wrong. The exact interval does not have this blind
spot: with $n$ of $n$ right its lower bound is $0.025^{1/n}$, below one. For a
perfect or all-or-nothing score, trust the exact interval, not the bootstrap.
"""
)

# %% [markdown]
# ## Do two models really differ?
#
# Two models scored on the *same* images should be compared image by image.
# {term}`McNemar's test` {cite}`mcnemar1947` looks only at the images
# on which they disagree: if model A is right on $b$ images that B gets wrong, and B
# on $c$ that A gets wrong, then without a real difference $b$ would be like the
# number of heads in $b + c$ fair coin tosses. The exact test turns that into a
# binomial p-value (`p_value`). The table compares the four models under the study's
# protocol, every pair; chapter 6 compares each model's protocols.
#
# Testing several pairs at once needs care. At the 5 % level, one test in twenty of
# two truly equal models comes out "significant" by chance, so the more pairs, the
# more false alarms. {term}`Holm's method <Holm adjustment>` {cite}`holm1979` corrects
# for that: sort the p-values, multiply the smallest by the number of tests, the next
# by one fewer, and so on, never letting an adjusted value fall below the one before
# it. Declaring a difference where this `p_holm` is below 5 % keeps the chance of
# *any* false alarm among all the pairs below 5 %. It is never stricter than
# Bonferroni's rule (multiply every p-value by the number of tests) and often less
# so. `evaluation.holm` writes it out in five lines (statsmodels' `multipletests`
# computes the same; SciPy offers only the false-discovery-rate adjustment). The
# `reading` column uses `p_holm`.

# %%
comparisons = evaluation.mcnemar_table(study_runs)
glue("pairs", len(comparisons))
glue("significant_raw", int((comparisons["p_value"] < 0.05).sum()))
glue("significant_holm", int((comparisons["p_holm"] < 0.05).sum()))
page.show_table(comparisons, digits=6)


# %% tags=["remove-input"]
def separated_pairs(table, names):
    """The pairs of ``table`` (mcnemar_table) that Holm separates at 5 %, in words."""
    chosen = [
        " and ".join(names[part] for part in pair.split(" vs ")) for pair in table["pair"][table["p_holm"] < 0.05]
    ]
    return "; ".join(chosen) if chosen else "no pair"


exact_bounds = {
    f"{m}/{p}": (lo, hi) for m, p, lo, hi in exact[["model", "protocol", "ci95_low", "ci95_high"]].to_numpy()
}
overlap = np.array(
    [
        max(exact_bounds[a][0], exact_bounds[b][0]) <= min(exact_bounds[a][1], exact_bounds[b][1])
        for a, b in comparisons["pair"].str.split(" vs ")
    ]
)
glue("separated", separated_pairs(comparisons, short))
glue("overlapping", int(overlap.sum()))
glue("overlap_separated", int((overlap & (comparisons["p_holm"] < 0.05).to_numpy()).sum()))

# %% tags=["remove-input"]
glue.prose(
    """
Of these {pairs} pairs, {significant_raw} have a p-value below
5 % on their own and {significant_holm} after Holm's adjustment
(separated: {separated}).

Do not compare the intervals instead. Each interval describes one model alone, as if
it had been tested on its own images; overlapping intervals therefore do not show
that two models are equal, nor even that the paired test would fail to separate
them, because McNemar uses what the intervals ignore: both models saw the same
images, and only the images on which they disagree carry the difference. (Two 95 %
intervals that do not overlap do point to a difference.) In this run the exact
intervals of {overlapping} of the {pairs} pairs overlap, and McNemar after
Holm separates {overlap_separated} of those.

Where the disagreements fall, class by class ({term}`confusion matrices <confusion matrix>`):
"""
)

# %% mystnb={"image": {"alt": "Confusion matrices of the four models on the test set."}}
plots.confusion_grid({labels[key]: run for key, run in study_runs.items()}, synthetic=images.synthetic);
# %% [markdown]
# ## Can the confidence be trusted?
#
# A model that says "90 %" should be right about 90 % of the time it says so. That
# is {term}`calibration` {cite}`guo2017`. The reliability diagram sorts the test
# predictions into ten bins by stated confidence (the probability given to the
# predicted class) and plots the observed accuracy in each bin, with the number of
# predictions it holds: a point made of three predictions says little. The
# {term}`expected calibration error <ECE>` is the average gap between the points and
# the diagonal, weighted by those counts. One panel per model, study protocol; the
# table below covers every run.

# %% mystnb={"image": {"alt": "Reliability diagrams, one panel per model: observed accuracy against stated confidence in each confidence bin, with the number of predictions per bin and the diagonal of perfect calibration."}}
plots.reliability_diagram({labels[key]: run for key, run in study_runs.items()}, columns=2, synthetic=images.synthetic);
# %%
page.show_table(evaluation.calibration_table(runs), 3)

# %% [markdown]
# ## The most confident mistakes
#
# Counting errors says how often; looking at them says *why*. For each model, the
# test images it got wrong with the highest confidence. The models saw them at their
# input size; they are shown here at 128 pixels or more (the same files, opened
# again, in the same order), so that a reader can see what is in them.

# %% mystnb={"image": {"alt": "For each model, the test images it misclassified with the highest confidence, with true and predicted class."}}
shown_images = images if images.image_size >= 128 else plan.open_data(params, image_size=128)
for key, run in study_runs.items():
    mistakes = evaluation.confident_mistakes(run, count=4)
    if len(mistakes):
        plots.mistakes_gallery(
            shown_images.images, mistakes, f"{labels[key]}: most confident mistakes", synthetic=images.synthetic
        )

# %% [markdown]
# ## The same questions for the full study

# %%
full = full_study.load_full_study()
print(full.describe() if full else "No full-study results found in results/full.")
full_runs = full.study_runs() if full else {}
full_test_images = len(next(iter(full_runs.values())).predictions()["y_true"]) if full_runs else "no"
glue("full_test_images", full_test_images)
print(f"Full study: {full_test_images} test images per run.")

# %% tags=["remove-input"]
glue("full_data", full.data_sentence() if full and full.runs else "")
full_scales = {}  # one entry per distinct scale, with the models trained at it
for m, p in full_runs:
    full_scales.setdefault(full.scale(m, p), []).append(evaluation.MODEL_TITLES[m].split(":")[0])
glue("full_scale", "; ".join(f"{', '.join(names)}: {scale}" for scale, names in full_scales.items()))
if full_runs:
    glue.prose(
        """
The committed full-profile runs (see chapter 6) were scored on
{full_test_images} test images each, against {n_test} here:
the more test images, the narrower the intervals and the more disagreements McNemar
has to count. {full_data} Their scale: {full_scale}. Their bootstrap
intervals, pairwise tests and calibration:
"""
    )
else:
    glue.prose("""There are no committed full-profile runs here, so this section has no tables.""")

# %%
if full_runs:
    full_intervals = evaluation.bootstrap_table(full_runs, resamples=resamples, seed=params.seed)
    page.show_table(full_intervals.reset_index(), 3)

# %%
if full_runs:
    full_comparisons = evaluation.mcnemar_table(full_runs)
    page.show_table(full_comparisons, digits=6)

# %% tags=["remove-input"]
if full_runs:
    full_short = {f"{m}/{p}": evaluation.MODEL_TITLES[m].split(":")[0] for m, p in full_runs}
    glue("full_pairs", len(full_comparisons))
    glue("full_significant", int((full_comparisons["p_holm"] < 0.05).sum()))
    glue("full_separated", separated_pairs(full_comparisons, full_short))
    glue.prose(
        """
{full_data} On these {full_test_images} test images McNemar after Holm
separates {full_significant} of the {full_pairs} pairs ({full_separated});
on this build's {n_test} it separates {significant_holm} of
{pairs} ({separated}). A separated pair differs on this test split by more
than chance disagreement explains; it says nothing yet about patients from other
hospitals (chapter 8). A pair not separated may still differ by less than these
test images can show.
"""
    )

# %% mystnb={"image": {"alt": "Reliability diagrams of the full-study runs, one panel per model, with the number of predictions per confidence bin."}}
if full_runs:
    plots.reliability_diagram({full_study.model_label(r): r for r in full_runs.values()}, columns=2)

# %%
if full:
    full_calibration = evaluation.calibration_table(full.runs)
    page.show_table(full_calibration, 3)


# %% tags=["remove-input"]
def calibration_words(table):
    """The study-protocol rows of ``table`` (calibration_table): ECE range and the worst-calibrated model, in words."""
    study = table[table["protocol"] == "study"].set_index("model")
    worst = study.loc[study["ECE"].idxmax()]
    side = "more" if worst["mean confidence"] > worst["accuracy"] else "less"
    return (
        f"{study['ECE'].min():.3f} to {study['ECE'].max():.3f}; the largest is "
        f"{evaluation.MODEL_TITLES[study['ECE'].idxmax()].split(':')[0]}'s, whose mean stated confidence "
        f"({worst['mean confidence']:.3f}) is {side} than its accuracy ({worst['accuracy']:.3f})"
    )


if full:
    glue("full_calibration", calibration_words(full_calibration))
    glue("build_calibration", calibration_words(evaluation.calibration_table(runs)))
    glue.prose(
        """
{full_data} Under the study's protocol the full-scale runs' ECE runs from
{full_calibration}. In this build it runs from {build_calibration}.
An ECE of a few hundredths means that stated confidence and accuracy differ by a
few points on average over the bins; it is measured on this test split, and says nothing about
how well the confidence holds on images from elsewhere, where it may be worse.
"""
    )

# %% [markdown]
# ## Summary

# %% tags=["remove-input"]
glue.prose(
    """
- An accuracy measured on {n_test} test images is uncertain: this run's
  bootstrap intervals for accuracy are up to {widest:.3f} wide.
- Exact (Clopper-Pearson) and bootstrap intervals differ (here by up to
  {gap_max:.3f} at a bound); the stratified bootstrap is the narrower when recall
  differs between classes. An interval of width zero means the bootstrap could not
  see the uncertainty, not that there is none.
- Overlapping intervals neither show that two models are equal nor test whether
  they differ: McNemar's test compares models on the same images; with several
  pairs, adjust the p-values (Holm) before calling a difference real.
- Stated confidence is not accuracy: check calibration, with the bin counts in view,
  before reading a softmax output as a probability.
- Confident mistakes are where shortcuts show: look at them before trusting a model.
"""
)

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** How many test images would halve the width of Model 1's accuracy
# interval? Use the exact interval (`evaluation.accuracy_interval(correct, total)`)
# at Model 1's accuracy for several test-set sizes.


# %% tags=["solution"]
def interval_width(accuracy, total):
    """Width of the exact 95 % interval for ``accuracy`` measured on ``total`` images."""
    # solution: round accuracy * total to a count of correct images and call evaluation.accuracy_interval
    low, high = evaluation.accuracy_interval(round(accuracy * total), total)
    return high - low


m1_accuracy = exact.set_index("model").loc["m1", "test_accuracy"]
for factor in (1, 2, 4, 8):
    print(f"{factor * n_test:>6} test images: width {interval_width(m1_accuracy, factor * n_test):.3f}")

# %% [markdown]
# Away from 0 and 1 the width shrinks like $1/\sqrt{n}$: four times the images halve
# it. At an accuracy of exactly 1 it shrinks like $1/n$, so twice the images already
# halve it.

# %% [markdown]
# **Exercise 2.** Which pair of models has the smallest McNemar p-value? Is it the
# pair with the largest accuracy difference? Add each pair's accuracy difference to
# the table and sort.

# %% tags=["solution"]
accuracy = {f"{m}/{p}": a for m, p, a in zip(exact["model"], exact["protocol"], exact["test_accuracy"])}
# solution: a column with accuracy[first] - accuracy[second] for each "first vs second" pair; sort by p_value
pairs = comparisons["pair"].str.split(" vs ")
comparisons["accuracy difference"] = [accuracy[a] - accuracy[b] for a, b in pairs]
page.show_table(comparisons.sort_values("p_value")[["pair", "accuracy difference", "p_value", "p_holm"]], 4)

# %% [markdown]
# The same difference in accuracy can come from few disagreements or from many that
# nearly cancel. McNemar's p depends on the disagreements, so the order by p need not
# follow the order by accuracy difference.

# %% [markdown]
# **Exercise 3.** Holm or Bonferroni? Write Bonferroni's adjustment (every p-value
# times the number of tests, at most 1) and count how many pairs each calls
# significant at 5 %.


# %% tags=["solution"]
# solution: def bonferroni(p_values), returning the Bonferroni-adjusted p-values
import numpy as np


def bonferroni(p_values):
    p_values = np.asarray(p_values, dtype=float)
    return np.minimum(p_values * len(p_values), 1.0)


print("Bonferroni:", int((bonferroni(comparisons["p_value"]) < 0.05).sum()), "significant")
print("Holm:      ", int((comparisons["p_holm"] < 0.05).sum()), "significant")

# %% [markdown]
# Holm never finds fewer: its smallest p-value is scaled like Bonferroni's, the others
# by less.

# %% [markdown]
# **Exercise 4.** Pick one confident mistake. What in the image could have misled the
# model? Compare its brightness with the typical brightness of its true class and of
# the class it was given.

# %% tags=["solution"]
# solution: for each model, its most confident mistake (evaluation.confident_mistakes(run, count=1)) and that image's brightness beside its class's
for model, _ in study_runs:
    mistakes = evaluation.confident_mistakes(study_runs[(model, "study")], count=1)
    if not len(mistakes):
        print(f"{model}: no mistakes")
        continue
    shown = model_images[model]
    brightness = shown.images[..., 0].mean(axis=(1, 2))
    typical = {name: brightness[shown.labels == k].mean() for k, name in enumerate(shown.class_names)}
    row = mistakes.iloc[0]
    print(
        f"{model}: a {row.true} image called {row.predicted} ({row.confidence:.0%}); brightness "
        f"{brightness[row['index']]:.0f}, typical {row.true} {typical[row.true]:.0f}, "
        f"typical {row.predicted} {typical[row.predicted]:.0f}"
    )

# %% [markdown]
# An image whose brightness is closer to the class it was given than to its own hints
# that exposure, not the lungs, drove the decision. One image proves nothing; chapter 8
# tests the idea properly.
