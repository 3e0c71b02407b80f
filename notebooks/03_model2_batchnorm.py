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
# # 3. Model 2: + batch normalization
#
# Model 2 is Model 1 with a `BatchNormalization` layer after every pooling layer.
# Nothing else changes, so any difference in behaviour is batch normalization's.
#
# **Learning goals**
#
# - say what batch normalization does during training and at prediction time;
# - count how many training steps its running statistics need;
# - compare Model 2's learning curves and scores with Model 1's.

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
from xray_utils import data, evaluation, full_study, models, narrative, page, plan, plots
from xray_utils.models import build_model, layer_table

params = plan.collect(globals())  # this build's settings: the profile above and its overrides
images = plan.open_data(params)

# %% tags=["remove-input"]
page.show_banner(images.synthetic)
glue = page.Glue()  # this run's numbers, for the prose that quotes them

# %% [markdown]
# ## The code
#
# Model 2 is model 1 with one more line in the loop: a `BatchNormalization` layer
# after every pooling layer (in the package, `study_cnn(..., batch_norm=True)`;
# chapter 2 shows that function). In plain Keras, the whole recipe in one cell you
# can copy into a blank notebook: arrays in, the model, `compile`, `fit` with the
# study's schedule, `evaluate`. It uses nothing from this book's package
# (`images.images` and `images.labels` are plain NumPy arrays; `EPOCHS` and `BATCH`
# are this build's profile), and its batches and first weights differ from the
# package's run below, so its accuracy is its own.

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
    model.add(keras.layers.BatchNormalization())
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
# ## What batch normalization does
#
# Batch normalization {cite}`ioffe2015` standardises each channel of a layer's output
# over the current batch (zero mean, unit variance), then rescales it with two
# learned numbers per channel (γ and β). It keeps activations in a range where
# gradients flow well, which usually lets a network train faster and tolerate a
# larger learning rate.
#
# Two details matter later:
#
# - during training the statistics come from the *batch*; at prediction time from
#   running averages gathered during training. If those averages are poor (few
#   steps, small or unrepresentative batches), the model behaves differently on
#   validation data than on training data;
# - each BN layer adds 4 numbers per channel, 2 learned and 2 running statistics
#   (not trained). With 128 + 64 + 32 + 32 channels that is 1,024 parameters.

# %% tags=["nbval-check-output"]
study_size_model = build_model("m2", (192, 192, 3))
print(
    f"{study_size_model.count_params():,} parameters at 192x192x3 "
    f"({study_size_model.count_params() - build_model('m1', (192, 192, 3)).count_params():,} more than Model 1)"
)
page.show_table(layer_table(study_size_model))

# %% tags=["nbval-check-output"]
shape = (params.image_size, params.image_size, params.channels)
model = build_model("m2", shape)
print(f"{model.count_params():,} parameters at {shape[0]}x{shape[1]}x{shape[2]}")

# %% [markdown]
# ## How many steps the running averages need
#
# Keras updates the running averages with momentum 0.99, so after *n* training
# steps their starting values (mean 0, variance 1) still weigh 0.99<sup>n</sup>:
# 37 % after 100 steps, under 1 % only after about 460. The study had 98 steps per
# epoch, and its Model 2 was near chance for its first two epochs.
#
# Small profiles have few images, so steps are scarce; that is why the `quick`
# profile uses smaller batches than the study's 32. In this build:

# %%
train_images = len(data.make_split("study", images.labels, params.seed).train)
steps_per_epoch = -(-train_images // params.batch_size)  # the last batch may be partial
steps = steps_per_epoch * params.epochs
glue("m2_train_images", train_images)
glue("m2_steps_per_epoch", steps_per_epoch)
glue("m2_steps", steps)
glue("m2_start_weight", 0.99**steps)
print(
    f"{train_images} training images, batch {params.batch_size}: {steps_per_epoch} steps per epoch, {steps} in all"
)

# %% tags=["remove-input"]
glue.prose(
    """
{m2_train_images:,d} training images in batches of the profile's size
give {m2_steps_per_epoch:,d} steps per epoch and
{m2_steps:,d} in all; at the end the starting statistics still weigh
{m2_start_weight:.1%} of the running averages. If that share is large,
expect validation scores far below training scores: the model predicts with
statistics it has not finished gathering.
"""
)

# %% [markdown]
# ## Training
#
# The same recipe and protocols as Model 1:

# %%
runs = plan.train_model("m2", params, images)
study = runs["study"]

# %% [markdown]
# ## Learning curves
#
# In the study, Model 2's first epochs were unstable: validation accuracy 0.35 then
# 0.31, with a validation loss of 5.0, before it recovered to 0.97. Look for the same
# early gap between training and validation here: it is the batch-versus-running
# statistics mismatch described above.

# %% mystnb={"image": {"alt": "Learning curves of Model 2: training and validation loss and accuracy, and the learning rate, per epoch."}}
plots.learning_curves(study.history, "Model 2, this build (study protocol)", steering="test set (steers)", synthetic=images.synthetic);

# %% tags=["remove-input"]
glue("m2_schedule", narrative.schedule_sentence(study))
glue.prose("{m2_schedule}")
# %% [markdown]
# ## Test results

# %%
page.show_table(evaluation.results_summary(runs))

# %% tags=["remove-input"]
glue("m2_arms", narrative.arms_sentence(runs))
glue("m2_spread", narrative.spread_sentence(params, "m2", study, images.synthetic))
glue.prose("{m2_arms} {m2_spread}")

# %%
page.show_table(evaluation.report_frame(study), 3)

# %% mystnb={"image": {"alt": "Confusion matrix of Model 2 on the test set (rows: true class, columns: predicted class)."}}
plots.confusion_matrix(study, "Model 2, this build (study protocol)", synthetic=images.synthetic);

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
full_run = full.runs.get(("m2", "study")) if full else None
glue("m2_full", narrative.full_scale_sentence(full, "m2"))
glue("m2_gap", narrative.published_gap_sentence(full, "m2"))
glue.prose("{m2_full}")

# %% mystnb={"image": {"alt": "Learning curves of Model 2 in the full study: loss and accuracy per epoch for training and the steering (test) set, and the learning rate."}} tags=["remove-input"]
if full_run is not None:
    plots.learning_curves(full_run.history, "Model 2, full study (study protocol)", steering="test set (steers)")

# %% tags=["remove-input"]
if full_run is not None:
    page.show_table(full_study.report_beside_published(full_run, "m2"), 3)

# %% mystnb={"image": {"alt": "Confusion matrix of Model 2 in the full study (rows: true class, columns: predicted class)."}} tags=["remove-input"]
if full_run is not None:
    plots.confusion_matrix(full_run, "Model 2, full study (study protocol)");

# %% tags=["remove-input"]
if full_run is not None:
    glue("m2_full_cuts", narrative.schedule_sentence(full_run, "the full study's run"))
    glue.prose("{m2_full_cuts} {m2_gap}")

# %% [markdown]
# ## Summary
#
# - Batch normalization standardises activations per batch while training and uses
#   running averages when predicting; those averages need hundreds of steps.
# - In the study it added 1,024 parameters and no accuracy (0.9717 against Model 1's
#   0.9781), a difference well inside the noise of a 778-image test set.
#
# ## Exercises
#
# **Exercise 1.** With the study's batch size of 32 and this build's training images,
# how much would the starting statistics still weigh after training? Compute it.

# %% tags=["solution"]
# solution: steps in all with batches of 32
batch_size_32_steps = -(-train_images // 32) * params.epochs
print(f"{batch_size_32_steps} steps: the starting statistics still weigh {0.99**batch_size_32_steps:.1%}")

# %% [markdown]
# **Exercise 2.** Move each BN layer *before* its pooling layer (Conv → BN → Pool).
# Does the parameter count change? Build the model and count.

# %% tags=["solution"]
import keras


def bn_before_pool(input_shape=(192, 192, 3)):
    """Model 2 with BatchNormalization between each Conv2D and its MaxPooling2D."""
    # solution: return a keras.Model
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Rescaling(1 / 255)(inputs)
    for filters in models.CONV_FILTERS:
        x = keras.layers.Conv2D(filters, kernel_size=2, padding="same", activation="relu")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.MaxPooling2D(pool_size=2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(100, activation="relu")(x)
    x = keras.layers.Dense(50, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


same = bn_before_pool().count_params() == study_size_model.count_params()
print("same parameter count" if same else "different parameter count")
print("BN has 4 numbers per channel wherever it sits; only the statistics it sees change (4x more positions).")

# %% [markdown]
# **Exercise 3.** Is Model 2's published accuracy (0.9717) different from Model 1's
# (0.9781) beyond chance? Compute both exact 95 % intervals on the 778 test images,
# then say what they can and cannot tell you.

# %% tags=["solution"]
# solution: evaluation.accuracy_interval(correct, total)
for name, accuracy in [("Model 1", 0.9781), ("Model 2", 0.9717)]:
    low, high = evaluation.accuracy_interval(round(accuracy * 778), 778)
    print(f"{name}: {accuracy:.4f}, 95 % interval {low:.4f} to {high:.4f}")

# %% [markdown]
# Each interval says how precisely *one* model's accuracy was measured. Whether they
# overlap answers no question about the difference: both models were scored on the
# same 778 images, so the right test is paired (McNemar's, chapter 7), and it needs
# each model's verdict on each image, which the study never published. With the
# full study's saved predictions the paired test can be run (chapter 7 does it, for
# every pair of models); from two accuracies alone, "different beyond chance" cannot
# be decided either way.
