# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,mystnb,-all
#     notebook_metadata_filter: kernelspec,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 7. Uncertainty and errors
#
# A test accuracy is a measurement on a few hundred images, and it comes with an
# error bar that the original study never drew. This chapter puts numbers on that
# uncertainty, asks which model differences are real, checks whether the models'
# stated confidence can be trusted, and looks at the mistakes made with most
# conviction.
#
# **Learning goals**
#
# - read bootstrap confidence intervals for accuracy, macro F1, sensitivity and
#   specificity;
# - test whether two models differ on the same images (McNemar);
# - read a reliability diagram and the expected calibration error;
# - look at confident mistakes, not only at counts.

# %% tags=["parameters"]
profile = "quick"
data_dir = None
data_subset = "study"
runs_dir = None
image_size = 32
m4_image_size = 32
channels = 3
per_class = 400
epochs = 6
m4_epochs = 3
m4_weights = "auto"
batch_size = 8
seed = 1987
precision = "float32"
protocols = ["study", "corrected"]
m4_protocols = ["study"]

# %%
from xray_utils import chapter, evaluation, full_study, plots

params = chapter.collect(globals())
images = chapter.open_data(params)
runs = chapter.load_runs(params, images)
study_runs = {key: run for key, run in runs.items() if key[1] == "study"}

# %% [markdown]
# ## Bootstrap confidence intervals
#
# Resample the test set with replacement (within each class, so the class balance
# stays), recompute every metric, repeat 1,000 times: the middle 95 % of those values
# is the interval. *Sensitivity* of a class is its recall (of its images, how many
# were found); *specificity* is how many images of the other classes were correctly
# *not* given that label.

# %% tags=["nbval-check-output"]
intervals = evaluation.bootstrap_table(study_runs, resamples=1000, seed=params["seed"])
print(
    f"{len(intervals)} intervals: {intervals.index.get_level_values('metric').nunique()} metrics "
    f"x {intervals.index.get_level_values('run').nunique()} runs"
)

# %%
chapter.show_table(intervals.reset_index(), 3)

# %% [markdown]
# ## Do two models really differ?
#
# Two models scored on the *same* images should be compared image by image. McNemar's
# test looks only at the images on which they disagree: if one model is right on 10
# that the other gets wrong, and the other way round on 2, is that more than chance?
# The exact test answers with a binomial p-value.

# %%
chapter.show_table(evaluation.mcnemar_table(runs), digits=6)

# %% [markdown]
# Where the disagreements fall, class by class:

# %% mystnb={"image": {"alt": "Confusion matrices of the four models on the test set."}}
plots.confusion_grid({evaluation.MODEL_TITLES[m]: r for (m, _), r in study_runs.items()}, synthetic=images.synthetic)
# %% [markdown]
# ## Can the confidence be trusted?
#
# A model that says "90 %" should be right about 90 % of the time it says so. The
# reliability diagram bins the predictions by stated confidence and plots the
# observed accuracy in each bin; the expected calibration error (ECE) is the average
# gap, weighted by how many predictions fall in each bin.

# %% mystnb={"image": {"alt": "Reliability diagram: observed accuracy against stated confidence for each model, with the diagonal of perfect calibration."}}
plots.reliability_diagram({f"{m}/{p}": r for (m, p), r in runs.items()}, synthetic=images.synthetic)
# %%
chapter.show_table(evaluation.calibration_table(runs), 3)

# %% [markdown]
# ## The most confident mistakes
#
# Counting errors says how often; looking at them says *why*. For each model, the
# test images it got wrong with the highest confidence:

# %% mystnb={"image": {"alt": "For each model, the test images it misclassified with the highest confidence, with true and predicted class."}}
for (model, _), run in study_runs.items():
    mistakes = evaluation.confident_mistakes(run, count=6)
    if len(mistakes):
        plots.mistakes_gallery(
            chapter.images_for(model, params, images).images,
            mistakes,
            f"{evaluation.MODEL_TITLES[model]}: most confident mistakes",
            synthetic=images.synthetic,
        )

# %% [markdown]
# ## The same questions for the full study
#
# The committed full-profile runs (see chapter 6) have about three times as many
# test images as the quick profile: intervals are narrower, and McNemar has more
# disagreements to count. Their bootstrap intervals, pairwise tests and calibration:

# %%
full = full_study.load_full_study()
print(full.describe() if full else "No full-study results found in results/full.")

# %%
if full:
    full_intervals = evaluation.bootstrap_table(full.study_runs(), resamples=1000, seed=params["seed"])
    chapter.show_table(full_intervals.reset_index(), 3)

# %%
if full:
    chapter.show_table(evaluation.mcnemar_table(full.runs), digits=6)

# %% mystnb={"image": {"alt": "Reliability diagram of the full-study runs: observed accuracy against stated confidence."}}
if full:
    plots.reliability_diagram({f"{m}/{p}": r for (m, p), r in full.runs.items()})

# %%
if full:
    chapter.show_table(evaluation.calibration_table(full.runs), 3)

# %% [markdown]
# ## Summary
#
# - With a test set of this size, accuracy intervals are several points wide: many
#   differences between the study's models are within them.
# - McNemar's test compares models on the same images and often finds such
#   differences not significant.
# - Stated confidence is not accuracy: check calibration before reading a softmax
#   output as a probability.
# - Confident mistakes are where shortcuts show: look at them before trusting a model.
#
# ## Exercises
#
# 1. How many test images would halve the width of model 1's accuracy interval?
#    Check by running with a larger `per_class`.
# 2. Which pair of models has the smallest McNemar p-value? Is that the pair with the
#    largest accuracy difference?
# 3. Pick one confident mistake. What in the image could have misled the model?
