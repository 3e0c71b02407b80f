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
# # 2. Model 1: a plain CNN
#
# The study's first model is a small convolutional network with no tricks: four
# convolution-and-pooling blocks and three dense layers. It is the baseline every
# later model is compared with.
#
# **Learning goals**
#
# - read the architecture and follow the image's shape through it;
# - train it with the study's recipe, and see what that recipe gets wrong;
# - read learning curves, a classification report and a confusion matrix.

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
# ## The architecture
#
# Each block is `Conv2D(F, kernel_size=2, padding="same", activation="relu")` followed
# by `MaxPooling2D(2)`, with F = 128, 64, 32, 32 filters:
#
# - a **2×2 kernel** looks at four neighbouring pixels at a time: very local, so
#   depth (the stacked blocks) must build up larger patterns;
# - **"same" padding** pads the border so the convolution keeps the image's height
#   and width;
# - **2×2 max pooling** keeps the strongest response in each 2×2 window, halving
#   height and width: a 192×192 X-ray becomes 96, 48, 24 and finally 12×12.
#
# The last 12×12×32 map is flattened into 4,608 numbers, then Dense 100 → Dense 50 →
# Dense 3 with softmax gives one probability per class. The model also starts with a
# `Rescaling(1/255)` layer, so it takes raw `uint8` pixels. Here it is at the study's
# input size:

# %% tags=["nbval-check-output"]
study_size_model = build_model("m1", (192, 192, 3))
print(f"{study_size_model.count_params():,} parameters at 192x192x3 (the study's size)")
chapter.show_table(layer_table(study_size_model))

# %% [markdown]
# Almost 90 % of the weights sit in the first dense layer (4,608 × 100): the
# convolutional part is tiny. At this chapter's input size the model is smaller,
# because the flattened map is smaller:

# %% tags=["nbval-check-output"]
model = build_model("m1", (image_size, image_size, channels))
print(f"{model.count_params():,} parameters at {image_size}x{image_size}x{channels}")

# %% [markdown]
# ## Training with the study's recipe
#
# Adam with learning rate 0.001, categorical cross-entropy, batches of 32, and
# `ReduceLROnPlateau` dividing the rate by 10 whenever validation accuracy has not
# improved for 3 epochs. (The `quick` profile uses batches of 8, so that its
# thousand-odd training images still give enough training steps; chapter 3 explains
# why that matters for batch normalization.) The catch: the study's *validation* data was its *test* set.
# The test images steered the learning rate, and the reported score is the last
# epoch's score on those same images.
#
# We reproduce that (`protocol="study"`) and, beside it, train the same model the
# honest way (`protocol="corrected"`): a separate validation split steers training,
# early stopping keeps the best epoch, and the test set is used once. A finished run
# with the same settings on the same images is reused rather than retrained.

# %%
runs = chapter.train_model("m1", params, images)
study = runs["study"]

# %% [markdown]
# ## Learning curves
#
# Training loss falls steadily; the gap between training and validation curves
# shows how much the model memorises. The right panel shows each cut of the
# learning rate.

# %% mystnb={"image": {"alt": "Learning curves of Model 1: training and validation loss and accuracy, and the learning rate, per epoch."}}
plots.learning_curves(study.history, "Model 1, study protocol", synthetic=images.synthetic)
# %% [markdown]
# ## Test results

# %%
chapter.show_table(evaluation.results_table({("m1", p): r for p, r in runs.items()}))

# %% [markdown]
# The classification report gives precision (of the images called X, how many are
# X), recall (of the X images, how many were found) and their harmonic mean, F1:

# %%
chapter.show_table(evaluation.report_frame(study), 3)

# %% mystnb={"image": {"alt": "Confusion matrix of Model 1 on the test set (rows: true class, columns: predicted class)."}}
plots.confusion_matrix(study, "Model 1 (study protocol)", synthetic=images.synthetic)

# %% [markdown]
# ## Summary
#
# - Model 1 is four tiny convolution blocks feeding a large dense layer.
# - The study's recipe validates on the test set, so its "test" accuracy is
#   optimistic; the corrected protocol scores the same test images honestly.
# - The confusion matrix shows *which* classes get mixed up, which accuracy hides.
#
# ## Exercises
#
# 1. Set `epochs = 12` and compare the learning curves: when does validation loss
#    stop improving?
# 2. Replace the 2×2 kernels by 3×3 (build your own copy of the model). How many
#    parameters does that add, and where?
# 3. Which class does Model 1 confuse most often? Look at a few of those images.
