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
# # 5. Model 4: CheXNet transfer learning
#
# The study's best model borrows a network trained on over a hundred thousand chest
# X-rays: CheXNet. This chapter explains what was borrowed, how the study grafted a
# three-class head onto it, and which weights this run used.
#
# **Learning goals**
#
# - say what CheXNet and DenseNet121 are;
# - follow the study's unusual head in code: a 14-finding layer kept as a bottleneck;
# - know which pretrained weights ran here, and why that matters.

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
from xray_utils import evaluation, models, page, plan, plots
from xray_utils.models import parameter_count
from xray_utils.weights import resolve_weights

params = plan.collect(globals())
images = plan.open_data(params, params.m4_image_size)
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
# The code the book runs, the CheXNet layout first and then the study's model around
# it (`pooled_first=False`; `m4_clean` is the usual head, pool first, for comparison):

# %%
page.show_code(models.build_chexnet, models._densenet_model)

# %% [markdown]
# So the three-way classifier sees only 14 sigmoid-squashed "finding" scores: a very
# narrow bottleneck.

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
plots.learning_curves(study.history, "Model 4, study protocol", synthetic=images.synthetic);
# %% [markdown]
# ## Test results

# %%
page.show_table(evaluation.results_table({("m4", p): r for p, r in runs.items()}))

# %%
page.show_table(evaluation.report_frame(study), 3)

# %% mystnb={"image": {"alt": "Confusion matrix of Model 4 on the test set (rows: true class, columns: predicted class)."}}
plots.confusion_matrix(study, "Model 4 (study protocol)", synthetic=images.synthetic);

# %% [markdown]
# ## Summary
#
# - CheXNet is DenseNet121 trained on 112,120 chest X-rays for 14 findings.
# - The study kept the 14-finding layer, applied per location, as a bottleneck in
#   front of its three-way classifier, and fine-tuned everything.
# - The starting weights decide most of what a short run can reach: the output
#   above says which ones ran.
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
