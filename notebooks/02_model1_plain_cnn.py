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
# later model is compared with. This chapter first shows, one at a time, the
# operations it is made of, then reads the study's training code line by line, flaw
# included, and ends with one cell of plain Keras you can copy.
#
# **Learning goals**
#
# - see what a convolution, a feature map, ReLU, pooling, softmax, cross-entropy and
#   Adam each do, on one X-ray and on numbers small enough to check by hand;
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
from xray_utils import evaluation, full_study, models, narrative, page, plan, plots, recipe
from xray_utils.models import build_model, layer_table

params = plan.collect(globals())  # this build's settings: the profile above and its overrides
images = plan.open_data(params)

# %% tags=["remove-input"]
page.show_banner(images.synthetic)
glue = page.Glue()  # this run's numbers, for the prose that quotes them

# %% [markdown]
# ## CNN basics, on one X-ray
#
# Model 1 is built from a handful of operations: convolutions, a ReLU after each,
# max pooling, dense layers, a softmax at the end, and a loss that the optimiser
# lowers. Before reading the model's code we try each of them on one X-ray and on a
# few numbers small enough to check by hand. The functions called below
# (`xray_utils.basics`) use the same Keras layers, loss and optimiser as the model, so
# what the pictures show is what the model computes.
#
# This build's images are small (`params.image_size` pixels a side): enough for
# training, too coarse to see much. For the pictures we read one of its files again,
# larger and in grayscale:

# %%
import keras
import numpy as np

from xray_utils import basics, data

first = 0  # any image of the set will do
xray = data.decode_image(images.root / images.files[first], 128, 1)[..., 0]  # uint8 (height, width)
print(f"{images.files[first]} ({images.class_names[images.labels[first]]}): {xray.shape}, pixels {xray.min()}-{xray.max()}")

# %% [markdown]
# ### Convolution and kernels
#
# A dense layer would give every pixel its own weight for every unit: millions of
# weights, and a rib seen a little higher up would be a new pattern to learn. What an
# image shows is local (an edge, a rib, a patch of haze), and it means the same
# wherever it appears. A {term}`convolution` builds this in: a small grid of weights,
# the {term}`kernel`, slides over the image; at each position the pixels under it are
# multiplied by the weights and the products added up. One kernel, reused at every
# position: few weights, and a pattern is found wherever it is.
#
# The whole computation fits in two loops. This is the code that runs below:

# %%
page.show_code(basics.convolve)

# %% [markdown]
# Model 1's kernels are 2×2, like this hand-made one. Its left column is positive and
# its right column negative, so it answers "how much brighter is the left than the
# right?": large where a bright structure ends on its right side, near zero where the
# image is flat, negative where the brightness rises. The figure takes the patch of
# the image's central half where this kernel responds most strongly (largest in size,
# positive or negative), and writes out
# the sum for the strongest cell (orange):

# %%
kernel = basics.EDGE_KERNEL
print(kernel)

# %% mystnb={"image": {"alt": "A chest X-ray with a small patch marked; the patch's pixel values in a grid; a 2\u00d72 kernel; the grid the kernel computes on the patch; and the multiply-and-add for one output cell written out."}}
basics.kernel_figure(xray, kernel, synthetic=images.synthetic);

# %% [markdown]
# Deep-learning libraries call this a convolution; strictly it is a
# *cross-correlation* (a mathematician's convolution flips the kernel first), but
# since the kernel's weights are learned, the flip changes nothing. Keras' `Conv2D`
# with this kernel and no bias gives the same numbers on the whole X-ray:

# %%
conv = keras.layers.Conv2D(1, kernel_size=2, padding="valid", use_bias=False)
conv.build((None, *xray.shape, 1))
conv.set_weights([kernel[:, :, None, None]])
by_keras = keras.ops.convert_to_numpy(conv(xray[None, :, :, None].astype("float32")))[0, :, :, 0]
by_hand = basics.convolve(xray, kernel)
print(f"output {by_hand.shape}; largest difference between the two: {np.abs(by_hand - by_keras).max():.2g}")

# %% [markdown]
# The output is one row and one column smaller than the image: a 2×2 kernel fits one
# position fewer than there are pixels in each direction ("valid" positions only).
# Model 1 asks for `padding="same"`: {term}`padding` adds a border of zeros so that
# the output keeps the image's height and width, and four blocks can be stacked
# without the maps shrinking by a pixel each time. Keras puts the extra zeros below
# and to the right:

# %%
same = keras.layers.Conv2D(1, kernel_size=2, padding="same", use_bias=False)
print("valid:", by_hand.shape, " same:", tuple(same(xray[None, :, :, None].astype("float32")).shape[1:3]))

# %% [markdown]
# ### Feature maps
#
# One kernel finds one kind of pattern. A convolution layer has many, each with its
# own weights, and each produces its own output image, a {term}`feature map`: where,
# and how strongly, its pattern occurs. Model 1's first layer has 128 kernels, so one
# X-ray becomes 128 maps. On a colour input each kernel is 2×2 *per channel*, and the
# sums over the channels are added, plus one bias per kernel.
#
# Below are the first maps of an *untrained* Model 1: its kernels are still random
# numbers, yet each already mixes brightness and edges in its own way. Training will
# change them. A convolution has no fixed input size (the same kernels slide over any
# image), so the model built for this build's input size takes the larger X-ray as it
# is. Each map has its own colour scale (its range is under its title). A black map,
# or one with a few bright pixels only, belongs to a kernel whose sums are negative
# almost everywhere on this image: the layer's ReLU (next section) set them to zero.

# %% mystnb={"image": {"alt": "A grid of feature maps of the first convolution layer of an untrained Model 1 for one X-ray, each on its own colour scale."}}
untrained = build_model("m1", (params.image_size, params.image_size, params.channels))
basics.feature_maps_figure(xray, untrained, count=8, synthetic=images.synthetic);

# %% [markdown]
# ### ReLU and pooling
#
# A convolution is a weighted sum, and a weighted sum of weighted sums is still one:
# without something else in between, four convolution layers could do no more than
# one. Each of Model 1's convolutions is therefore followed by a {term}`ReLU`, which
# keeps positive values and sets negative ones to zero: the simplest function that is
# not a straight line, and cheap to compute.
#
# {term}`Max pooling` then keeps the largest value of each 2×2 window, halving the
# height and the width. The next layer's 2×2 kernels therefore see twice as much of
# the image in each direction, four blocks see a large part of the chest, and a
# pattern moved by a pixel mostly gives the same pooled value. Both steps on a few
# numbers chosen for the example, by the Keras layers the model uses:

# %%
page.show_code(basics.relu_and_pool)

# %% mystnb={"image": {"alt": "A 4\u00d74 grid of numbers before ReLU, after ReLU with its four 2\u00d72 windows outlined, and the 2\u00d72 grid after max pooling, with the maximum of each window written out."}}
basics.relu_pool_figure(basics.EXAMPLE_VALUES);

# %% [markdown]
# On the X-ray, one feature map of the layer above (already through its ReLU) and
# the same map after pooling:

# %%
feature_map = basics.first_conv_maps(xray, untrained)[..., 0]
_, pooled = basics.relu_and_pool(feature_map)
print(f"feature map {feature_map.shape} -> after 2x2 max pooling {pooled.shape}")

# %% [markdown]
# ### Softmax and cross-entropy
#
# After the last pooling layer, `Flatten` lays the maps out as one long vector and the
# dense layers combine them. The last dense layer has one unit per class. Its outputs,
# the class scores or *logits*, can be any real numbers; the {term}`softmax` turns them
# into probabilities: the exponential makes each one positive, and dividing by their
# sum makes them add up to one. The largest score gets the largest probability.
#
# Training needs one number that says how wrong a prediction is: the {term}`loss`.
# For classification it is the {term}`cross-entropy`, minus the logarithm of the
# probability given to the *true* class. It is zero when the model gives the true class
# all of the probability and grows without limit as that probability falls to zero,
# so a confident mistake costs far more than a hesitant one. The scores below are made
# up for the example; the table computes each step, and the loss is computed twice,
# by hand and by the Keras loss the study compiled with (`"categorical_crossentropy"`):

# %%
logits = np.array([2.0, 0.5, -1.0])  # made-up scores, one per class of images.class_names
true_class = images.class_names[1]
page.show_table(basics.softmax_table(logits, images.class_names, true_class))
print(basics.cross_entropy(logits, images.class_names, true_class))

# %% mystnb={"image": {"alt": "Bar charts of three class scores and of their softmax probabilities, the true class in red, with the cross-entropy loss in the title."}}
basics.softmax_figure(logits, images.class_names, true_class);

# %% [markdown]
# Change `true_class` to the class with the largest score and the loss falls; to the
# class with the smallest, and it rises most. During training the loss of a
# {term}`batch` is the average of its images' losses.

# %% [markdown]
# ### What Adam does with a learning rate
#
# Training changes every weight a little at a time, each in the direction in which the
# loss falls fastest (minus its gradient). A real model has far too many weights to
# draw, but a loss of two weights we can draw: an elongated bowl, steep across and
# flat along, as real losses often are in some directions.
#
# *Plain gradient descent* moves each weight by the {term}`learning rate` times its
# gradient: long steps on the steep walls, tiny ones on the flat floor.
# {term}`Adam`, the study's optimiser, keeps a running average of each weight's
# gradient and of its square, and steps by the first divided by the square root of
# the second. The size of the gradient cancels out: each weight moves by roughly the
# learning rate per step, in the direction its recent gradients agree on. Both
# optimisers below are Keras' own, updating a Keras variable; only the bowl's gradient
# is written by hand. `optimizer_paths` runs this once with each:

# %%
page.show_code(basics.descend)

# %%
paths = basics.optimizer_paths(learning_rate=0.05)
for name, path in paths.items():
    print(f"{name}: first step {np.round(path[1] - path[0], 4)}, gradient at the start {np.array(basics.BOWL_CURVATURE) * path[0]}")

# %% [markdown]
# Adam's first step is the learning rate in each weight, whatever the gradient. The
# same two optimisers over a few dozen steps, at a smaller and at a larger learning
# rate:

# %% mystnb={"image": {"alt": "Two figures, one per learning rate: the paths of gradient descent and Adam over the contours of an elongated bowl, and the loss after each step on a log scale."}}
for rate in (0.05, 0.2):
    basics.optimizer_figure(basics.optimizer_paths(learning_rate=rate, steps=40), learning_rate=rate)

# %% [markdown]
# At the smaller rate, gradient descent drops into the valley in a few steps and then
# crawls along its flat floor, while Adam walks at one pace towards the minimum. At
# the larger rate, gradient descent's steps across the steep walls overshoot further
# each time and it leaves the plot: it diverges. Adam's steps grow only in proportion
# to the rate, so it still approaches the minimum. Adam is not always faster (on this bowl a
# well-chosen rate for gradient descent wins), but its learning rate means the same
# thing for every weight: about how far it moves in one step.
#
# The study used Adam with a learning rate of 0.001: each weight of Model 1 moves by
# about a thousandth per batch, and an {term}`epoch` is as many such steps as there
# are batches in the training set. {term}`ReduceLROnPlateau` divides the rate by 10
# when the monitored score stalls: from then on every step is ten times shorter.

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
# - each block is the section above in one line each: a convolution with 2×2
#   kernels (very local, so the stacked blocks must build up larger patterns),
#   "same" padding, ReLU, and 2×2 max pooling;
# - pooling halves height and width in every block: a 192×192 X-ray becomes 96, 48,
#   24 and finally 12×12.
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
# ## The whole recipe in plain Keras
#
# Everything above fits in one cell you can copy into a blank notebook: arrays in, the model, `compile`, `fit` with the study's schedule (and its flaw: the test set as validation data), `evaluate`. It uses nothing from this book's package:
# `images.images` and `images.labels` are plain NumPy arrays (put your own there),
# and `EPOCHS` and `BATCH` are this build's profile. Its batches come in another order
# and its first weights differ from the package's run (it is seeded, but differently),
# so its accuracy is its own.

# %% tags=["copyable"]
import keras
from sklearn.model_selection import train_test_split

keras.utils.set_random_seed(1987)  # the same first weights and batch order on every run
EPOCHS, BATCH = params.epochs, params.batch_size  # this build's profile (the study: 50, 32)
x, y = images.images, keras.utils.to_categorical(images.labels)  # uint8 (N, S, S, 3); one-hot (N, 3)
x_train, x_test, y_train, y_test = train_test_split(x, y, stratify=y, test_size=0.2, random_state=1987)

model = keras.Sequential([keras.Input(shape=x.shape[1:]), keras.layers.Rescaling(1 / 255)])
for filters in (128, 64, 32, 32):
    model.add(keras.layers.Conv2D(filters, kernel_size=2, padding="same", activation="relu"))
    model.add(keras.layers.MaxPooling2D(pool_size=2))
model.add(keras.layers.Flatten())
model.add(keras.layers.Dense(100, activation="relu"))
model.add(keras.layers.Dense(50, activation="relu"))
model.add(keras.layers.Dense(3, activation="softmax"))

adam = keras.optimizers.Adam(learning_rate=0.001)
model.compile(optimizer=adam, loss="categorical_crossentropy", metrics=["accuracy"])
lower_rate = keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", patience=3, factor=0.1, mode="max")
model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH,
          validation_data=(x_test, y_test), callbacks=[lower_rate], verbose=0)  # the study's flaw, kept
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"plain Keras, {EPOCHS} epochs: test accuracy {accuracy:.3f}")

# %% [markdown]
# ## Training
#
# The package trains the three protocols with the recipe above (a finished run with
# the same settings on the same images is reused rather than retrained):

# %%
runs = plan.train_model("m1", params, images)  # {protocol: finished run}
study = runs["study"]

# %% tags=["remove-input"]
glue("m1_epochs", params.epochs)
glue("m1_batch", params.batch_size)
glue("m1_steps", -(-study.metrics["train_images"] // params.batch_size) * study.metrics["epochs_run"])
glue.prose(
    """
This build's profile trains for {m1_epochs} epochs in batches of {m1_batch}:
{m1_steps:,d} weight updates under the study protocol.
"""
)

# %% [markdown]
# Training changed the first layer's kernels. The same X-ray through the trained
# model's first convolution layer (compare with the untrained maps above):

# %% mystnb={"image": {"alt": "A grid of feature maps of the first convolution layer of the trained Model 1 for the same X-ray, each on its own colour scale."}}
basics.feature_maps_figure(xray, study.load_model(), count=8, synthetic=images.synthetic);

# %% [markdown]
# ## Learning curves
#
# Training loss should fall; the gap between the training curve and the steering
# set's (under the study protocol: the test set) shows how much the model
# memorises. The lower panel is the learning rate, where each cut shows as a step.

# %% mystnb={"image": {"alt": "Learning curves of Model 1 in this build: loss and accuracy per epoch for training and the steering (test) set, and the learning rate."}}
plots.learning_curves(study.history, "Model 1, this build (study protocol)", steering="test set (steers)", synthetic=images.synthetic);

# %% tags=["remove-input"]
glue("m1_schedule", narrative.schedule_sentence(study))
glue.prose("{m1_schedule}")

# %% [markdown]
# ## Test results
#
# One row per protocol, each with its exact 95 % interval (chapter 7 explains it):

# %%
page.show_table(evaluation.results_summary(runs))

# %% tags=["remove-input"]
glue("m1_arms", narrative.arms_sentence(runs))
glue("m1_spread", narrative.spread_sentence(params, "m1", study, images.synthetic))
glue.prose("{m1_arms} {m1_spread}")

# %% [markdown]
# The classification report gives {term}`precision` (of the images called X, how
# many are X), {term}`recall` (of the X images, how many were found) and their
# harmonic mean, F1:

# %%
page.show_table(evaluation.report_frame(study), 3)

# %% mystnb={"image": {"alt": "Confusion matrix of Model 1 on the test set (rows: true class, columns: predicted class)."}}
plots.confusion_matrix(study, "Model 1, this build (study protocol)", synthetic=images.synthetic);

# %% [markdown]
# ## At full scale: the study's settings
#
# This build's run above is a small demonstration (its profile is named in the line
# at the top of the page). The same code also ran at the study's settings on a GPU:
# the *full study*, committed to the repository as numbers (no weights, no images).
# Its learning curves, per-class report beside the one the study published, and
# confusion matrix:

# %% tags=["remove-input"]
full = full_study.load_full_study()
full_run = full.runs.get(("m1", "study")) if full else None
glue("m1_full", narrative.full_scale_sentence(full, "m1"))
glue("m1_gap", narrative.published_gap_sentence(full, "m1"))
glue.prose("{m1_full}")

# %% mystnb={"image": {"alt": "Learning curves of Model 1 in the full study: loss and accuracy per epoch for training and the steering (test) set, and the learning rate."}} tags=["remove-input"]
if full_run is not None:
    plots.learning_curves(full_run.history, "Model 1, full study (study protocol)", steering="test set (steers)")

# %% tags=["remove-input"]
if full_run is not None:
    page.show_table(full_study.report_beside_published(full_run, "m1"), 3)

# %% mystnb={"image": {"alt": "Confusion matrix of Model 1 in the full study (rows: true class, columns: predicted class)."}} tags=["remove-input"]
if full_run is not None:
    plots.confusion_matrix(full_run, "Model 1, full study (study protocol)");

# %% tags=["remove-input"]
if full_run is not None:
    glue("m1_full_cuts", narrative.schedule_sentence(full_run, "the full study's run"))
    glue.prose("{m1_full_cuts} {m1_gap}")

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
