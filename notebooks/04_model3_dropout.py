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
# # 4. Model 3: + dropout
#
# Model 3 adds two dropout layers to Model 2: `Dropout(0.8)` after the first batch
# normalization and `Dropout(0.2)` after the third. In the study this model fell to
# 0.7172 test accuracy, and its recall for normal X-rays to 0.28. This chapter is
# about why.
#
# **Learning goals**
#
# - say what dropout does in training and at prediction time;
# - explain why 0.8 dropout right after the first block hurt so much;
# - read the failure in the learning curves.

# %% tags=["parameters"]
profile = "quick"
data_dir = None
data_subset = "study"
runs_dir = None
image_size = 32
channels = 3
per_class = 400
epochs = 6
batch_size = 8
seed = 1987
precision = "float32"
protocols = ["study", "corrected"]
retrain = False

# %%
from xray_utils import chapter, evaluation, plots
from xray_utils.models import build_model, layer_table

params = chapter.collect(globals())
images = chapter.open_data(params)

# %% [markdown]
# ## What dropout does
#
# Dropout {cite}`srivastava2014` sets a random fraction of a layer's outputs to zero at
# every training step and scales the rest up to keep the sum unchanged. No unit can
# rely on any other, which discourages memorising. At prediction time nothing is
# dropped.
#
# `Dropout(0.8)` after the first block throws away **four out of five** of the 128
# feature maps' values at every step, right where the network sees edges and
# textures. Two effects follow:
#
# - the following layers see a very noisy, sparse input while training and a dense,
#   clean one at prediction time;
# - the batch normalization layers after it learn their running statistics from the
#   noisy, dropped-out activations, which differ from what they see at prediction
#   time (a train–inference mismatch). The study's Model 3 reached 0.9997 training
#   accuracy and yet 0.7172 on the test set.
#
# Dropout has no weights, so the parameter count equals Model 2's:

# %% tags=["nbval-check-output"]
study_size_model = build_model("m3", (192, 192, 3))
print(f"{study_size_model.count_params():,} parameters at 192x192x3 (same as Model 2)")
chapter.show_table(layer_table(study_size_model))

# %% tags=["nbval-check-output"]
model = build_model("m3", (image_size, image_size, channels))
print(f"{model.count_params():,} parameters at {image_size}x{image_size}x{channels}")

# %% [markdown]
# ## Training

# %%
runs = chapter.train_model("m3", params, images)
study = runs["study"]

# %% [markdown]
# ## Learning curves
#
# Watch the distance between the training and validation curves. In the study,
# validation loss jumped to 13.5 in epoch 2, peaked in accuracy at 0.896 in epoch 9,
# and ended at 2.38 while the training loss was 0.003.

# %% mystnb={"image": {"alt": "Learning curves of Model 3: training and validation loss and accuracy, and the learning rate, per epoch."}}
plots.learning_curves(study.history, "Model 3, study protocol", synthetic=images.synthetic)
# %% [markdown]
# ## Test results

# %%
chapter.show_table(evaluation.results_table({("m3", p): r for p, r in runs.items()}))

# %% [markdown]
# The per-class report shows *where* the model fails. In the study, normal images were
# mostly called pneumonia (recall 0.28, while pneumonia recall was 0.97): the model
# had collapsed two classes that share their source hospital.

# %%
chapter.show_table(evaluation.report_frame(study), 3)

# %% mystnb={"image": {"alt": "Confusion matrix of Model 3 on the test set (rows: true class, columns: predicted class)."}}
plots.confusion_matrix(study, "Model 3 (study protocol)", synthetic=images.synthetic)

# %% [markdown]
# ## Summary
#
# - Dropout zeroes random activations while training and none while predicting.
# - 0.8 dropout early in a small network, followed by batch normalization, makes the
#   training-time and prediction-time networks disagree.
# - The study reported Model 3's last epoch; its best epoch (0.896) was far better,
#   a difference the corrected protocol's early stopping would have kept.
#
# ## Exercises
#
# 1. Build a variant with `Dropout(0.2)` in place of `Dropout(0.8)`. How do the curves change?
# 2. Put the first dropout *before* the batch normalization. Why might that help?
# 3. Compare the study and corrected rows of the results table. Which protocol
#    suffers more from an unstable model, and why?
