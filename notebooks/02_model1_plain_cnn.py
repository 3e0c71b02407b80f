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
# ---

# %% [markdown]
# # 2. Model 1: a plain CNN
#
# The study's first model is a small convolutional network with no tricks: four
# convolution-and-pooling blocks and three dense layers. It is the baseline every
# later model is compared with, and this chapter is where we read the study's
# training code line by line, flaw included.
#
# **Learning goals**
#
# - read the Keras code of the architecture and follow the image's shape through it;
# - read the study's `compile` and `fit`, and see which images steer its training;
# - read learning curves, a classification report and a confusion matrix.

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
from xray_utils import evaluation, models, page, plan, plots, recipe
from xray_utils.models import build_model, layer_table

params = plan.collect(globals())
images = plan.open_data(params)
page.show_banner(images.synthetic)
glue = page.Glue()  # this run's numbers, for the prose that quotes them

# %% [markdown]
# ## The architecture, in Keras
#
# Models 1 to 3 come from one function. This is the code the book runs (shown from
# the package itself, so it cannot drift from what trains):

# %%
page.show_code(models.study_cnn)

# %% [markdown]
# Model 1 is the plain version: `study_cnn("m1_plain", input_shape)`, no batch
# normalization and no dropout. Reading the loop:
#
# - a **2×2 kernel** looks at four neighbouring pixels at a time: very local, so
#   depth (the stacked blocks) must build up larger patterns;
# - **"same" padding** pads the border so the convolution keeps the image's height
#   and width;
# - **2×2 max pooling** keeps the strongest response in each 2×2 window, halving
#   height and width: a 192×192 X-ray becomes 96, 48, 24 and finally 12×12.
#
# The last 12×12×32 map is flattened into 4,608 numbers; Dense 100, Dense 50 and a
# softmax over the three classes follow. The study divided pixels by 255 before the
# model; here the first layer, `Rescaling(1/255)`, does it, so the model takes raw
# `uint8` pixels. At the study's input size:

# %% tags=["nbval-check-output"]
study_size_model = build_model("m1", (192, 192, 3))
print(f"{study_size_model.count_params():,} parameters at 192x192x3 (the study's size)")
page.show_table(layer_table(study_size_model))

# %% [markdown]
# Almost 90 % of the weights sit in the first dense layer (4,608 × 100): the
# convolutional part is tiny. At this build's input size the flattened map, and so
# the model, is smaller:

# %% tags=["nbval-check-output"]
shape = (params.image_size, params.image_size, params.channels)
model = build_model("m1", shape)
print(f"{model.count_params():,} parameters at {shape[0]}x{shape[1]}x{shape[2]}")

# %% [markdown]
# ## The study's recipe, as it was written
#
# The original notebook had no validation split. Reduced to its data flow (names as
# in the notebook; `preprocessor` reads, resizes to 192×192 and divides by 255):
#
# ```python
# X = np.array([preprocessor(path) for path in files])   # (3886, 192, 192, 3) floats in [0, 1]
# y = pd.get_dummies(labels)                             # one-hot: COVID, NORMAL, PNEUMONIA
# X_train, X_test, y_train, y_test = train_test_split(
#     X, y, stratify=y, test_size=0.20, random_state=1987)
#
# model.compile(optimizer=Adam(lr=0.001), loss="categorical_crossentropy", metrics=["accuracy"])
# red_lr = ReduceLROnPlateau(monitor="val_accuracy", patience=3, factor=0.1, mode="max")
# model.fit(X_train, y_train, epochs=50,
#           validation_data=(X_test, y_test),   # (1) the test set steers the learning rate
#           callbacks=[red_lr])
# model.evaluate(X_test, y_test)                 # (2) ...and is then reported as unseen
# ```
#
# Keras never trains the weights on `validation_data`, so this is not training on the
# test set. But (1) `ReduceLROnPlateau` watches the test accuracy and cuts the
# learning rate by 10 whenever it has stalled for 3 epochs: the test images decide
# *how* the model is trained. Then (2) the same images are reported as if nothing had
# touched them. That is a {term}`data leakage`, and chapter 6 measures how much it
# changed the scores.
#
# Keeping the last epoch's weights is *not* part of the flaw: with the test set as
# validation data, picking the "best" epoch would leak more, not less.

# %% [markdown]
# ## The same recipe in this book
#
# The package compiles and fits every model with these three functions (again the
# running code). Batches come from a seeded generator, so `fit` itself does not
# shuffle:

# %%
page.show_code(recipe.compile_study, recipe.study_callbacks, recipe.fit_study)

# %% [markdown]
# What changes between protocols is only which images train and which images are
# passed as `steering_data`:
#
# | protocol | trains on | steers the learning rate | scored on |
# |---|---|---|---|
# | `study` | 80 % | the test set (the flaw) | the test set |
# | `test_steered` | 70 % | the test set | the test set |
# | `corrected` | the same 70 % | a separate 10 % validation set | the test set, untouched |
#
# All three share the study's 20 % test set, so their scores are comparable image by
# image. `test_steered` and `corrected` differ in nothing but the steering images:
# chapter 6 uses that pair to isolate the leak.

# %% [markdown]
# ## Training

# %%
runs = plan.train_model("m1", params, images)
study = runs["study"]
glue("m1_epochs", params.epochs)
glue("m1_batch", params.batch_size)
glue("m1_steps", -(-study.metrics["train_images"] // params.batch_size) * study.metrics["epochs_run"])

# %% tags=["remove-input"]
glue.prose(
    """
A finished run with the same settings on the same images is reused rather than
retrained. This build's profile trains for {m1_epochs} epochs in
batches of {m1_batch}: {m1_steps:,d} weight updates under
the study protocol.
"""
)

# %% [markdown]
# ## Learning curves
#
# Training loss falls steadily; the gap between training and validation curves
# shows how much the model memorises. The right panel shows each cut of the
# learning rate: under the study protocol, each cut was decided by test images.

# %% mystnb={"image": {"alt": "Learning curves of Model 1: training and validation loss and accuracy, and the learning rate, per epoch."}}
plots.learning_curves(study.history, "Model 1, study protocol", synthetic=images.synthetic);
# %% [markdown]
# ## Test results
#
# One row per protocol, each with its exact 95 % interval (chapter 6 explains it):

# %%
page.show_table(evaluation.results_table({("m1", p): r for p, r in runs.items()}))

# %% [markdown]
# The classification report gives {term}`precision` (of the images called X, how
# many are X), {term}`recall` (of the X images, how many were found) and their
# harmonic mean, F1:

# %%
page.show_table(evaluation.report_frame(study), 3)

# %% mystnb={"image": {"alt": "Confusion matrix of Model 1 on the test set (rows: true class, columns: predicted class)."}}
plots.confusion_matrix(study, "Model 1 (study protocol)", synthetic=images.synthetic);

# %% [markdown]
# ## Summary
#
# - Model 1 is four tiny convolution blocks feeding a large dense layer: the code
#   above is all of it.
# - The study's `fit` passed the test set as validation data, so test images steered
#   the learning-rate schedule before being reported as unseen.
# - The confusion matrix shows *which* classes get mixed up, which accuracy hides.
#
# ## Exercises
#
# **Exercise 1.** Replace the 2×2 kernels by 3×3. How many parameters does that add
# at 192×192×3, and in which layers? Fill in the function, then compare with
# `layer_table(build_model("m1"))`.

# %% tags=["solution"]
import keras


def plain_cnn_3x3(input_shape=(192, 192, 3)):
    """Model 1 with 3x3 kernels (copy the loop of study_cnn above and change one number)."""
    # solution: return a keras.Model
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Rescaling(1 / 255)(inputs)
    for filters in models.CONV_FILTERS:
        x = keras.layers.Conv2D(filters, kernel_size=3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(pool_size=2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(100, activation="relu")(x)
    x = keras.layers.Dense(50, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


extra = plain_cnn_3x3().count_params() - study_size_model.count_params()
print(f"3x3 kernels add {extra:,} parameters, all in the four Conv2D layers (the dense part is unchanged)")

# %% [markdown]
# **Exercise 2.** Which true class does Model 1 misclassify most often in this build,
# and as what? Use `evaluation.confusion(study)`.

# %% tags=["solution"]
matrix = evaluation.confusion(study)
# solution: find the largest off-diagonal cell of `matrix`
import numpy as np

off_diagonal = matrix.where(~np.eye(len(matrix), dtype=bool))
true_class, predicted = off_diagonal.stack().idxmax()
print(f"most frequent mistake: {true_class} called {predicted} ({int(off_diagonal.stack().max())} images)")

# %% [markdown]
# **Exercise 3.** In which epochs did the schedule cut the learning rate under the
# study protocol? Those cuts were decided by test images. (Hint:
# `evaluation.rate_cuts`.)

# %% tags=["solution"]
# solution: the epochs that trained at a lower rate than the one before
cuts = evaluation.rate_cuts(study)
print(f"rate cut before epoch(s) {cuts}" if cuts else "the rate was never cut in this run")
