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
# # 5. Model 4: DenseNet121, and the study's CheXNet transfer
#
# The study's best model borrowed a network trained on over a hundred thousand chest
# X-rays: CheXNet, a DenseNet121. This chapter explains what was borrowed, how the
# study grafted a three-class head onto it, and which weights this book's runs
# started from. That last point matters: the CheXNet file cannot be downloaded
# here, so unless you supply it, model 4 trains from random weights, and what a
# from-scratch DenseNet121 reaches on these data is itself a lesson.
#
# **Learning goals**
#
# - say what CheXNet and DenseNet121 are;
# - follow the study's unusual head in code: a 14-finding layer kept as a bottleneck;
# - know which weights ran here, and what the result then does and does not show.

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
from xray_utils import evaluation, full_study, models, narrative, page, plan, plots
from xray_utils.models import parameter_count
from xray_utils.weights import resolve_weights

params = plan.collect(globals())  # this build's settings: the profile above and its overrides
images = plan.open_data(params, params.m4_image_size)

# %% tags=["remove-input"]
page.show_banner(images.synthetic)
glue = page.Glue()  # this run's numbers, for the prose that quotes them

# %% [markdown]
# ## CheXNet
#
# CheXNet {cite}`rajpurkar2017` is a DenseNet121 {cite}`huang2017` trained on
# ChestX-ray14: 112,120 frontal chest X-rays of 30,805 patients (mostly adults, some
# children) from the US National Institutes of Health, each labelled with any of 14
# findings (atelectasis, cardiomegaly, effusion, infiltration, mass, nodule,
# pneumonia, pneumothorax, consolidation, oedema, emphysema, fibrosis, pleural
# thickening, hernia). DenseNet121 connects every layer of a block to all the layers
# before it, which reuses features and keeps the network at about 7 million
# parameters.
#
# ## The study's head, in Keras
#
# The study loaded the Keras port of CheXNet
# (`brucechou1983_CheXNet_Keras_0.3.0_weights.h5`) and then:
#
# 1. applied the 14-finding `Dense(14, sigmoid)` layer to DenseNet's *un-pooled*
#    6×6×1024 feature map (CheXNet pools first): the weights still fit, since a
#    dense layer acts on the last axis, so it now predicts 14 findings per location;
# 2. averaged those 6×6×14 predictions (global average pooling);
# 3. added `Dense(3, softmax)`. All layers stayed trainable, at learning rate 0.001.
#
# The code the book runs for the CheXNet layout (DenseNet121 and the 14-finding
# layer; `pooled=False` is the study's way, `pooled=True` CheXNet's own):

# %%
page.show_code(models.build_chexnet)

# %% [markdown]
# And the study's model around it, with the whole recipe, in plain Keras: one cell
# you can copy into a blank notebook (nothing from this book's package;
# `images.images` and `images.labels` are plain NumPy arrays, `EPOCHS` and `BATCH`
# this build's profile). It starts from random weights (`weights=None`); the study
# loaded the CheXNet file into `densenet` and the 14-finding layer, and the section
# after next says which weights this build's own run started from. Its batches and first weights differ from the package's run, so
# its accuracy is its own.

# %% tags=["copyable"]
import keras
from sklearn.model_selection import train_test_split

keras.utils.set_random_seed(1987)  # the same first weights and batch order on every run
EPOCHS, BATCH = params.m4_epochs, params.batch_size  # this build's profile (the study: 50, 32)
x, y = images.images, keras.utils.to_categorical(images.labels)  # uint8 (N, S, S, 3); one-hot (N, 3)
x_train, x_test, y_train, y_test = train_test_split(x, y, stratify=y, test_size=0.2, random_state=1987)

densenet = keras.applications.DenseNet121(include_top=False, weights=None, input_shape=x.shape[1:])
inputs = keras.Input(shape=x.shape[1:])
features = densenet(keras.layers.Rescaling(1 / 255)(inputs))  # (S/32, S/32, 1024): no pooling yet
findings = keras.layers.Dense(14, activation="sigmoid")(features)  # CheXNet's 14 findings, per location
outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(findings))
model = keras.Model(inputs, outputs)

adam = keras.optimizers.Adam(learning_rate=0.001)
model.compile(optimizer=adam, loss="categorical_crossentropy", metrics=["accuracy"])
adam.build(model.trainable_variables)  # Adam's variables before fit: TensorFlow prepares the first step faster
lower_rate = keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", patience=3, factor=0.1, mode="max")
model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH,
          validation_data=(x_test, y_test), callbacks=[lower_rate], verbose=0)  # the study's flaw, kept
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"plain Keras, {EPOCHS} epochs: test accuracy {accuracy:.3f}")

# %% [markdown]
# So the three-way classifier sees only 14 sigmoid-squashed "finding" scores: a very
# narrow bottleneck.

# %% tags=["remove-input"]
glue("m4_size", params.m4_image_size)
glue("m4_grid", params.m4_image_size // 32)
glue(
    "m4_grid_note",
    " a single position, so in this build the \"per location\" head has one location and is the pooled head."
    if params.m4_image_size // 32 == 1
    else ".",
)
glue.prose(
    """
DenseNet121 shrinks its input 32 times: the study's 192 px give the 6×6 map above;
this build's {m4_size} px give {m4_grid}×{m4_grid}{m4_grid_note}
"""
)

# %% tags=["nbval-check-output"]
print(f"Model 4 (study head): {parameter_count('m4', (192, 192, 3)):,} parameters at 192x192x3")
print(f"Pool-first head:      {parameter_count('m4_clean', (192, 192, 3)):,} parameters at 192x192x3")

# %% [markdown]
# ## Which weights ran here
#
# - the CheXNet-Keras file, if you supply it (put it in `weights/` or set
#   `XRAY_CHEXNET_WEIGHTS`): what the study used;
# - otherwise ImageNet weights, which Keras downloads once when online: a network
#   trained on photographs, not X-rays;
# - otherwise (offline, no file) random initialisation: DenseNet121 trained from
#   scratch on a few hundred images, which cannot be expected to do well.

# %%
weights, why = resolve_weights(params.m4_weights)
print(f"Model 4 starts from: {why}")

# %% [markdown]
# ## Training
#
# DenseNet121 is 14 times the size of Model 1 and much deeper. Its first epoch also
# pays for compiling the training step, so small profiles train it briefly on small
# inputs; the full profile runs the study's 50 epochs at 192×192.

# %%
runs = plan.train_model("m4", params, images)
study = runs["study"]
seconds = study.history["seconds"]
glue("m4_first_epoch_s", float(seconds.iloc[0]))
glue("m4_later_epoch_s", float(seconds.iloc[1:].median()) if len(seconds) > 1 else float("nan"))

# %% tags=["remove-input"]
glue.prose(
    """
In this build the first epoch took {m4_first_epoch_s:.0f} s and later
epochs {m4_later_epoch_s:.0f} s each: the difference is mostly the
one-off compilation.
"""
)

# %% mystnb={"image": {"alt": "Learning curves of Model 4: training and validation loss and accuracy, and the learning rate, per epoch."}}
plots.learning_curves(study.history, "Model 4, this build (study protocol)", steering="test set (steers)", synthetic=images.synthetic);

# %% tags=["remove-input"]
glue("m4_schedule", narrative.schedule_sentence(study))
glue.prose("{m4_schedule}")
# %% [markdown]
# ## Test results

# %%
page.show_table(evaluation.results_summary(runs))

# %% tags=["remove-input"]
glue("m4_arms", narrative.arms_sentence(runs))
glue("m4_spread", narrative.spread_sentence(params, "m4", study, images.synthetic))
glue("m4_collapse", narrative.collapse_sentence(study, "This build's model 4"))
glue.prose("{m4_arms} {m4_spread} {m4_collapse}")

# %%
page.show_table(evaluation.report_frame(study), 3)

# %% mystnb={"image": {"alt": "Confusion matrix of Model 4 on the test set (rows: true class, columns: predicted class)."}}
plots.confusion_matrix(study, "Model 4, this build (study protocol)", synthetic=images.synthetic);

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
full_run = full.runs.get(("m4", "study")) if full else None
glue("m4_full", narrative.full_scale_sentence(full, "m4"))
glue("m4_gap", narrative.published_gap_sentence(full, "m4"))
glue.prose("{m4_full}")

# %% mystnb={"image": {"alt": "Learning curves of Model 4 in the full study: loss and accuracy per epoch for training and the steering (test) set, and the learning rate."}} tags=["remove-input"]
if full_run is not None:
    plots.learning_curves(full_run.history, "Model 4, full study (study protocol)", steering="test set (steers)")

# %% tags=["remove-input"]
if full_run is not None:
    page.show_table(full_study.report_beside_published(full_run, "m4"), 3)

# %% mystnb={"image": {"alt": "Confusion matrix of Model 4 in the full study (rows: true class, columns: predicted class)."}} tags=["remove-input"]
if full_run is not None:
    plots.confusion_matrix(full_run, "Model 4, full study (study protocol)");

# %% tags=["remove-input"]
if full_run is not None:
    glue("m4_full_cuts", narrative.schedule_sentence(full_run, "the full study's run"))
    glue.prose("{m4_full_cuts} {m4_gap}")

# %% tags=["remove-input"]
glue("m4_lesson", narrative.weights_lesson_sentence(full))
glue.prose("{m4_lesson}")

# %% [markdown]
# ## Summary
#
# - CheXNet is DenseNet121 trained on 112,120 chest X-rays for 14 findings.
# - The study kept the 14-finding layer, applied per location, as a bottleneck in
#   front of its three-way classifier, and fine-tuned everything.
# - Which weights a run starts from is part of its result: the lines above say
#   which ones this build's run and the full study's started from, and the full
#   study's section says what a DenseNet121 reached from there.
#
# ## Exercises
#
# **Exercise 1.** How many numbers reach the final `Dense(3)` in the study's head, and
# how many in the pool-first head? Read it from the models' layers.

# %% tags=["solution"]
small = (32, 32, 3)  # small inputs: the head's width does not depend on the input size
# solution: build_model("m4", small) and build_model("m4_clean", small); inspect model.layers[-1].input
for name in ("m4", "m4_clean"):
    head_input = models.build_model(name, small).layers[-1].input
    print(f"{name}: the classifier reads {head_input.shape[-1]} numbers per image")

# %% [markdown]
# **Exercise 2.** Freeze the DenseNet part and count what would still train. What
# does that do to the number of trainable parameters?

# %% tags=["solution"]
frozen = models.build_model("m4", small)
# solution: set trainable = False on the DenseNet part (the nested model), then count frozen.trainable_weights
import numpy as np

for layer in frozen.get_layer("chexnet").layers[:-1]:  # all but the 14-finding layer
    layer.trainable = False
trainable = sum(int(np.prod(w.shape)) for w in frozen.trainable_weights)
print(f"{trainable:,} of {frozen.count_params():,} parameters would still train")

# %% [markdown]
# **Exercise 3.** CheXNet was trained on 224×224 images with ImageNet normalisation;
# the study fed 192×192 images scaled to [0, 1]. Which mismatch would you fix first,
# and how?
#
# ```{admonition} Solution
# :class: dropdown
# The normalisation: the pretrained filters expect inputs centred and scaled per
# channel with ImageNet's mean and standard deviation, and [0, 1] inputs shift every
# first-layer response. A `Normalization` layer with those constants after
# `Rescaling` fixes it at no cost. The size matters less: DenseNet's convolutions
# work at any size, and 192 only shrinks the last feature map from 7×7 to 6×6.
# ```
