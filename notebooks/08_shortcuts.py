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
#   xray_book:
#     reads_runs: true
# ---

# %% [markdown]
# # 8. Is the model looking at the lungs?
#
# High test accuracy says the classes can be told apart *in this collection*. It does
# not say how. Chapter 1 showed that the classes differ in age and hospital as well
# as in disease; this chapter measures whether the models use that {term}`confound`.
# It asks them three questions: where in the image does the decision come from, does
# it survive hiding the lungs, and does it hold on X-rays of adults from other
# hospitals?
#
# **Learning goals**
#
# - read Grad-CAM heatmaps, and know their limits;
# - run an occlusion test and interpret accuracy with the lungs hidden;
# - evaluate on a held-out set from other hospitals and adults;
# - state what a model like these can and cannot claim.

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

# %% [markdown]
# The questions need the trained models themselves, not only their predictions, so
# this chapter uses this build's runs (the committed full-study results hold no
# weights). Each model's images are opened once, at its input size.

# %%
import numpy as np
import pandas as pd

from xray_utils import data, evaluation, explain, page, plan, plots

params = plan.collect(globals())
images = plan.open_data(params)
page.show_banner(images.synthetic)
glue = page.Glue()  # this run's numbers, for the prose that quotes them
runs = plan.load_runs(params, images)
study_runs = {key: run for key, run in runs.items() if key[1] == "study"}
model_images = {model: plan.images_for(model, params, images) for model, _ in study_runs}
models = {model: run.load_model() for (model, _), run in study_runs.items()}
print(f"Heatmaps, occlusion and held-out recall below use this build's models ({params.profile} profile).")

# %% [markdown]
# ## Where does the decision come from?

# %% mystnb={"image": {"alt": "Grad-CAM heatmaps over test X-rays for each model: one right and one wrong prediction of each class."}}
sides = {model: explain.target_layer(models[model]).output.shape[1] for model in models}
glue("grids", ", ".join(f"{evaluation.MODEL_TITLES[m].split(':')[0]} {n}×{n}" for m, n in sides.items()))
for (model, _), run in study_runs.items():
    picks = explain.example_picks(run, per_class=1)
    if len(picks):
        shown = model_images[model].images[picks["index"]]
        plots.heatmap_gallery(
            shown,
            explain.heatmaps(models[model], shown),
            picks,
            f"{evaluation.MODEL_TITLES[model]}: Grad-CAM",
            synthetic=images.synthetic,
        )

# %% tags=["remove-input"]
glue.prose(
    """
{term}`Grad-CAM` {cite}`selvaraju2017` weights the last convolutional feature maps
by how much the class score changes with them, and paints the result over the
image: warm colours mark regions that pushed towards the predicted class. For each
model, one right and one wrong prediction of each class. Heatmaps are coarse (one
cell per position of the last feature map) and show correlation with the score,
not medical reasoning; look for mass on borders, corners, text markers and the
shoulders rather than on lung tissue. In this run the maps have these grids:
{grids}. A single cell gives a flat map; the `full` profile's larger
inputs give finer ones.
"""
)

# %% [markdown]
# ## Hide the lungs

# %%
max_images = 300
glue("max_images", max_images)
occlusion = explain.occlusion_table(study_runs, model_images.get, max_images=max_images)
glue("hidden_best", occlusion["chest hidden"].max())
page.show_table(occlusion, 3)

# %% tags=["remove-input"]
glue.prose(
    """
If a model reads pathology, blanking the central chest region (both lung fields)
should drop it to chance (one in three). If it stays well above chance with the
lungs hidden, it is using something else: borders, collimation, markers, body size.
This is an {term}`occlusion test`. Each model is scored on a stratified
sample of at most {max_images} of its test images (three passes over the
whole test set at the study's size would take most of this chapter's time on a
CPU); the `images` column says how many, and "as is" is the accuracy on that same
sample.
"""
)

# %% tags=["nbval-check-output", "remove-cell"]
print(list(occlusion.columns))

# %% tags=["remove-input"]
glue.prose(
    """
Here the best accuracy with the chest hidden is {hidden_best:.2f}. The
further that is above one in three, the more of the models' score comes from
outside the lungs.
"""
)

# %% [markdown]
# ## Other hospitals, adults
#
# The held-out set is COVID images from a later release (mostly BIMCV, Valencia) and
# *adult* normal X-rays from another source (RSNA), none of them seen in training. It
# comes from `external_dir`, from an `external` folder beside the data, or, with the
# 2021 download and `data_subset=study`, from the files the study subset left out.
# The lines below say which (or why there is none), and the table where its images
# come from. Testing on such data is an external validation, and the change of
# population it brings is a {term}`distribution shift`. With the study's data the
# training normals were all children: if a model learned "adult means COVID", it will
# call many adult normals COVID.

# %%
sizes = sorted({shown.image_size for shown in model_images.values()})
held_out = {sizes[0]: plan.open_external(params, images, sizes[0])}  # prints why, when there is none
if held_out[sizes[0]] is not None:
    held_out.update({size: plan.open_external(params, images, size) for size in sizes[1:]})
    page.show_table(data.provenance_table(held_out[sizes[0]]))

# %% [markdown]
# Read the next table by row: `recall` is the share of that class's held-out images
# the model labelled correctly, with an exact 95 % interval; the `called ...` columns
# say where the others went. The last table sets each model's normal recall on its
# own test set (children, the training hospital) beside its recall on the adult
# normals, and gives the share of adult normals it called COVID.

# %%
if held_out[sizes[0]] is not None:
    recall = explain.held_out_recall(study_runs, lambda model: held_out[model_images[model].image_size])
    page.show_table(recall, 3)

# %%
if held_out[sizes[0]] is not None:
    normal = images.class_names.index("Normal")
    rows = []
    for (model, _), run in study_runs.items():
        predicted = run.predictions()
        test_normals = predicted["y_true"] == normal
        adults = recall[(recall["model"] == model) & (recall["class"] == "Normal")].iloc[0]
        rows.append(
            {
                "model": model,
                "normal recall, test set": (predicted["y_prob"][test_normals].argmax(1) == normal).mean(),
                "normal recall, adult normals": adults["recall"],
                "adult normals called COVID": adults["called COVID"] / adults["images"],
            }
        )
    shift = pd.DataFrame(rows)
    page.show_table(shift, 3)
    low, high = shift["adult normals called COVID"].min(), shift["adult normals called COVID"].max()
    glue(
        "held_out_verdict",
        f"Across the four models, this run called {low:.0%} to {high:.0%} of the adult normals COVID.",
    )
else:
    glue("held_out_verdict", "This run has no held-out set, so the tables above are missing.")

# %% tags=["remove-input"]
glue.prose(
    """
{held_out_verdict} Normal recall far below its test-set value, with the
misses going to COVID, is the age-and-hospital shortcut made visible; recall that
holds up is evidence against it. (The committed full-study runs are numbers without weights, so this part is
always this build's, from the profile named above.)
"""
)

# %% [markdown]
# ## What such a model can and cannot claim
#
# It *can* claim that images in this collection are separable: its test accuracy,
# with an interval. It *cannot* claim to detect COVID-19: the classes differ in age,
# hospital and processing, the models may use those differences, and their accuracy
# on new hospitals is unknown until measured. DeGrave and colleagues
# {cite}`degrave2021` found exactly such shortcuts in COVID-19 radiograph
# classifiers. Roberts and colleagues {cite}`roberts2021` identified 2,212 studies of
# machine learning for COVID-19 imaging, reviewed the 62 that met their criteria in
# detail, and found none of potential clinical use, mostly for flaws and biases like
# these.
#
# ## Summary
#
# - Heatmaps hint at where a decision comes from; they do not prove reasoning.
# - Accuracy that survives hiding the lungs measures a {term}`shortcut <shortcut learning>`.
# - A held-out set from other hospitals and ages is the honest test; with the study's
#   data it measures the age confound directly, through the adult normals.
#
# ## Exercises
#
# **Exercise 1.** `explain.CHEST_BOX` is the region blanked to hide the lungs, as
# fractions of the image (top, bottom, left, right). Shrink it step by step. At what
# size does Model 1's accuracy with the box hidden fall to chance?

# %% tags=["solution"]
test = study_runs[("m1", "study")].predictions()["indices"]
test = test[explain.stratified_sample(model_images["m1"].labels[test], max_images)]
# solution: hide the outside of smaller boxes, e.g. (0.3, 0.7, 0.3, 0.7), with explain.occlude(..., "outside", box) and score Model 1 on each
from xray_utils.pipeline import predict_proba

labels = model_images["m1"].labels[test]
for margin in (0.15, 0.25, 0.35, 0.45):
    box = (margin, 1 - margin, margin, 1 - margin)
    hidden = explain.occlude(model_images["m1"].images[test], "outside", box)
    accuracy = (predict_proba(models["m1"], hidden, np.arange(len(hidden))).argmax(1) == labels).mean()
    print(f"box {box}: accuracy with the box hidden {accuracy:.2f}")
# A box that shrinks towards the centre hides less and less; if even the largest box leaves the
# model far above chance, the frame outside the chest carries the class.

# %% [markdown]
# **Exercise 2.** `explain.heatmaps` also computes {term}`HiResCAM`
# {cite}`draelos2020` (`method="hirescam"`), which multiplies gradient and feature map
# position by position instead of averaging the gradient first. Compute both for
# Model 1's examples. Where do they disagree, and why?

# %% mystnb={"image": {"alt": "HiResCAM heatmaps of Model 1 over the same test images, for comparison with its Grad-CAM maps."}} tags=["solution"]
picks = explain.example_picks(study_runs[("m1", "study")], per_class=1)
shown = model_images["m1"].images[picks["index"]]
# solution: compare explain.heatmaps(models["m1"], shown, method=...) for "gradcam" and "hirescam"
both = {name: explain.heatmaps(models["m1"], shown, method=name) for name in explain.METHODS}
plots.heatmap_gallery(shown, both["hirescam"], picks, "Model 1: HiResCAM", synthetic=images.synthetic)
flat = {name: maps.reshape(len(maps), -1) for name, maps in both.items()}
agreement = [np.corrcoef(a, b)[0, 1] if a.std() and b.std() else np.nan for a, b in zip(*flat.values())]
print("correlation of the two maps, per image:", np.round(agreement, 2))
# Grad-CAM gives each feature map one weight (its average gradient), so a map that matters in one
# place is painted everywhere it is active; HiResCAM keeps the gradient's position. They agree where
# one region dominates, and disagree where a map is active in several places that matter differently.

# %% [markdown]
# **Exercise 3.** Which change to the training data would you make first to remove
# the age shortcut? Look at the training images' sources again.

# %% tags=["solution"]
sources = data.provenance_table(images)
# solution: which rows would you change, and with what images? (data.age_summary(sources) helps)
print(data.age_summary(sources))
# Make age (and hospital) independent of the label: normals and pneumonia of adults, from the same
# hospitals and machines as the COVID images (for example the RSNA adult normals of the 2021 release
# beside adult COVID, or children with COVID beside the pediatric classes). Then test on a hospital
# that supplied no training images at all.
