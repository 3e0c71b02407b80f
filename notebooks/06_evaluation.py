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
# # 6. Evaluation: four models side by side
#
# The model chapters each trained one model. Here we put them next to each other and
# next to the numbers the original study published, and ask which differences are
# real.
#
# **Learning goals**
#
# - rebuild the study's results table and compare it with the published one;
# - read accuracy with its uncertainty, per-class reports, confusion matrices and ROC
#   curves;
# - measure what validating on the test set did to the reported scores.

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

# %% [markdown]
# ## The runs
#
# Nothing is retrained here: each model chapter saved a run folder (model, history,
# split, test predictions, versions), and this chapter reads them. A run is missing
# only if its chapter was skipped; it is then trained now, with a note (under the
# `full` profile the chapter stops instead, naming the `xray-book train` command that
# makes it: hours of training on a CPU should never start by surprise).

# %%
runs = chapter.load_runs(params, images)
study_runs = {key: run for key, run in runs.items() if key[1] == "study"}
for (model, protocol), run in runs.items():
    print(
        f"{model:>3} / {protocol:<9} {run.name}  ({run.metrics['epochs_run']} epochs, "
        f"{run.environment['backend']} backend)"
    )

# %% [markdown]
# Every run was scored on the same test images (the study's 20 % split).

# %% tags=["nbval-check-output", "remove-cell"]
print(sorted(runs), {run.metrics["test_images"] for run in runs.values()})

# %% [markdown]
# ## The study's table, and the published one
#
# The original notebook printed test loss and accuracy for each model (on the test
# set it also used for validation, after epoch 50). Our rows use the same protocol.
# The 95 % interval is the exact binomial interval for the accuracy on this many test
# images: two models whose intervals overlap widely are not shown to differ.

# %%
table = evaluation.results_table(study_runs)
chapter.show_table(table.drop(columns=["title"]))

# %% mystnb={"image": {"alt": "Test accuracy of each model with its 95 % interval, next to the accuracy the original study published."}}
plots.accuracy_comparison(table, synthetic=images.synthetic)
# %% [markdown]
# ## Classification reports
#
# Accuracy averages over classes; the reports below show each class's precision and
# recall. The study's Model 3 had normal recall 0.28: invisible in a single accuracy
# number, obvious here.

# %%
for (model, _protocol), run in study_runs.items():
    print(evaluation.MODEL_TITLES[model])
    chapter.show_table(evaluation.report_frame(run), 3)

# %% mystnb={"image": {"alt": "Confusion matrices of the four models on the test set."}}
plots.confusion_grid({evaluation.MODEL_TITLES[m]: r for (m, _), r in study_runs.items()}, synthetic=images.synthetic)
# %% [markdown]
# ## ROC curves and AUC
#
# Each class against the other two: the curve traces true-positive against
# false-positive rate as the decision threshold moves. The area under it (AUC) is the
# chance that a random image of the class scores higher than a random image of
# another class. The original study reported none of this.

# %% mystnb={"image": {"alt": "One-vs-rest ROC curves per class for each of the four models."}}
plots.roc_grid({evaluation.MODEL_TITLES[m]: r for (m, _), r in study_runs.items()}, synthetic=images.synthetic)
# %%
chapter.show_table(evaluation.auc_table(study_runs))

# %% [markdown]
# ## The corrected protocol beside the original
#
# Same model, same seed, same test images; the only difference is whether the test
# set steered training (study) or a separate validation split did (corrected, with
# the best epoch kept). A positive difference is accuracy the study's protocol
# reported that an honest protocol did not find.

# %%
chapter.show_table(evaluation.protocol_comparison(runs))

# %% [markdown]
# ## The full study
#
# Everything above comes from this build's runs, with the profile it ran. The
# study's own settings (192×192 inputs, every image, 50 epochs) take a GPU, so the
# repository carries the full-scale runs as numbers (`results/full/`: test
# predictions, histories, splits; no weights, no pixels). Each run folder is checked
# before use: its key must follow from its configuration and data, and its file list
# must be the data it claims. Where the study is faithfully reproduced, these are the
# numbers to compare with the published ones.

# %%
full = full_study.load_full_study()
print(full.describe() if full else "No full-study results found in results/full.")

# %%
if full:
    chapter.show_table(evaluation.results_table(full.study_runs()).drop(columns=["title"]))

# %% mystnb={"image": {"alt": "Confusion matrices of the four models in the full study (192x192 inputs, every image, 50 epochs)."}}
if full:
    plots.confusion_grid({evaluation.MODEL_TITLES[m]: r for (m, _), r in full.study_runs().items()})

# %% mystnb={"image": {"alt": "One-vs-rest ROC curves per class for each of the four models in the full study."}}
if full:
    plots.roc_grid({evaluation.MODEL_TITLES[m]: r for (m, _), r in full.study_runs().items()})

# %% [markdown]
# The two protocols in the full study, where both runs exist (the missing ones are
# named above):

# %%
if full:
    chapter.show_table(evaluation.protocol_comparison(full.runs))

# %% [markdown]
# ## Summary
#
# - The table reproduces the study's comparison, with uncertainty it never showed.
# - Per-class reports and confusion matrices reveal failures that accuracy hides.
# - Reusing the test set for validation makes reported scores optimistic; the
#   corrected protocol measures by how much.
# - High scores on this dataset still say little about hospitals, ages and scanners
#   the model has not seen (chapter 1's confound).
#
# ## Exercises
#
# 1. With the quick profile, which pairs of models have overlapping 95 % intervals?
#    What test-set size would you need to separate a 97 % from a 98 % model?
# 2. Pick the model with the lowest COVID recall. Which class do its missed COVID
#    images go to?
# 3. Compare the full study's table with this build's and with the published one.
#    Which differences does the quick profile explain, and which remain?
