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
# # 5. Model 4: CheXNet transfer learning
#
# The study's best model borrows a network trained on a hundred thousand chest
# X-rays: CheXNet. This chapter explains what was borrowed, how the study grafted a
# three-class head onto it, and which weights this run used.
#
# **Learning goals**
#
# - say what CheXNet and DenseNet121 are;
# - follow the study's unusual head: a 14-finding layer kept as a bottleneck;
# - know which pretrained weights ran here, and why that matters.

# %% tags=["parameters"]
profile = "quick"
data_dir = None
data_subset = "study"
runs_dir = None
m4_image_size = 32
channels = 3
per_class = 400
m4_epochs = 3
m4_weights = "auto"
batch_size = 8
seed = 1987
precision = "float32"
m4_protocols = ["study"]
retrain = False

# %%
from xray_utils import chapter, evaluation, plots
from xray_utils.models import parameter_count
from xray_utils.weights import resolve_weights

params = chapter.collect(globals())
images = chapter.open_data(params, m4_image_size)

# %% [markdown]
# ## CheXNet
#
# CheXNet {cite}`rajpurkar2017` is a DenseNet121 {cite}`huang2017` trained on
# ChestX-ray14: 112,120 frontal chest X-rays of 30,805 adult patients from the US
# National Institutes of Health, each labelled with any of 14 findings (atelectasis,
# cardiomegaly, effusion, infiltration, mass, nodule, pneumonia, pneumothorax,
# consolidation, oedema, emphysema, fibrosis, pleural thickening, hernia).
# DenseNet121 connects every layer of a block to all the layers before it, which
# reuses features and keeps the network at about 7 million parameters.
#
# The study loaded the Keras port of CheXNet (`brucechou1983_CheXNet_Keras_0.3.0_weights.h5`)
# and then:
#
# 1. applied the 14-finding `Dense(14, sigmoid)` layer to DenseNet's *un-pooled*
#    6×6×1024 feature map (CheXNet pools first): the weights still fit, since a
#    dense layer acts on the last axis, so it now predicts 14 findings per location;
# 2. averaged those 6×6×14 predictions (global average pooling);
# 3. added `Dense(3, softmax)`. All layers stayed trainable, at learning rate 0.001.
#
# So the three-way classifier sees only 14 sigmoid-squashed "finding" scores: a very
# narrow bottleneck. The book also offers `m4_clean`, the usual head (pool first,
# then a new dense layer) for comparison.

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
weights, why = resolve_weights(params["m4_weights"])
print(f"Model 4 starts from: {why}")

# %% [markdown]
# ## Training
#
# DenseNet121 is 14 times the size of Model 1 and much deeper; on a CPU its first
# training step alone needs about half a minute of graph preparation, so the quick
# profile trains it briefly, on 32×32 inputs (its smallest), where its last feature
# map is a single cell. The full profile runs the study's 50 epochs at 192×192.

# %%
runs = chapter.train_model("m4", params, images)
study = runs["study"]

# %% mystnb={"image": {"alt": "Learning curves of Model 4: training and validation loss and accuracy, and the learning rate, per epoch."}}
plots.learning_curves(study.history, "Model 4, study protocol", synthetic=images.synthetic)
# %% [markdown]
# ## Test results

# %%
chapter.show_table(evaluation.results_table({("m4", p): r for p, r in runs.items()}))

# %%
chapter.show_table(evaluation.report_frame(study), 3)

# %% mystnb={"image": {"alt": "Confusion matrix of Model 4 on the test set (rows: true class, columns: predicted class)."}}
plots.confusion_matrix(study, "Model 4 (study protocol)", synthetic=images.synthetic)

# %% [markdown]
# ## Summary
#
# - CheXNet is DenseNet121 trained on 112,120 adult chest X-rays for 14 findings.
# - The study kept the 14-finding layer, applied per location, as a bottleneck in
#   front of its three-way classifier, and fine-tuned everything.
# - The starting weights decide most of what a short run can reach: the output
#   above says which ones ran.
#
# ## Exercises
#
# 1. Train `m4_clean` (the pool-first head) with the same settings. Is the bottleneck
#    a help or a hindrance?
# 2. Freeze the DenseNet part (`layer.trainable = False`) and train only the head.
#    How do speed and accuracy change?
# 3. CheXNet was trained on 224×224 images with ImageNet normalisation; the study fed
#    192×192 images scaled to [0, 1]. Which mismatch would you fix first?
