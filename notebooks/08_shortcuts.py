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
# # 8. Is the model looking at the lungs?
#
# High test accuracy says the classes can be told apart *in this collection*. It does
# not say how. This chapter asks the models three questions: where in the image does
# the decision come from, does it survive hiding the lungs, and does it hold on X-rays
# from other hospitals?
#
# **Learning goals**
#
# - read Grad-CAM heatmaps, and know their limits;
# - run an occlusion test and interpret accuracy with the lungs hidden;
# - evaluate on a held-out set from other hospitals and adults;
# - state what a model like these can and cannot claim.

# %% tags=["parameters"]
profile = "quick"
data_dir = None
data_subset = "study"
external_dir = None
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
from xray_utils import chapter, data, evaluation, explain, plots

params = chapter.collect(globals())
images = chapter.open_data(params)
runs = chapter.load_runs(params, images)
study_runs = {key: run for key, run in runs.items() if key[1] == "study"}
print(f"Heatmaps, occlusion and held-out recall below use this build's models ({params['profile']} profile).")

# %% [markdown]
# ## Where does the decision come from?
#
# Grad-CAM {cite}`selvaraju2017` weights the last convolutional feature maps by how
# much the class score changes with them, and paints the result over the image: warm
# colours mark regions that pushed towards the predicted class. For each model, one
# right and one wrong prediction of each class (warm = more influence). Heatmaps are
# coarse (one cell per pooled feature) and show correlation with the score, not
# medical reasoning; look for mass on borders, corners, text markers and the
# shoulders rather than on lung tissue. In the `quick` profile (32×32 inputs) Models
# 1–3 explain on a 4×4 grid and Model 4 on a single cell, so its map is flat: run the
# `full` profile to see anything finer.

# %% mystnb={"image": {"alt": "Grad-CAM heatmaps over test X-rays for each model: one right and one wrong prediction of each class."}}
for (model, _), run in study_runs.items():
    model_images = chapter.images_for(model, params, images).images
    picks = explain.example_picks(run, per_class=1)
    if len(picks):
        maps = explain.heatmaps(run.load_model(), model_images[picks["index"]])
        plots.heatmap_gallery(
            model_images[picks["index"]],
            maps,
            picks,
            f"{evaluation.MODEL_TITLES[model]}: Grad-CAM",
            synthetic=images.synthetic,
        )

# %% [markdown]
# ## Hide the lungs
#
# If a model reads pathology, blanking the central chest region (both lung fields)
# should drop it to chance (1/3). If it stays well above chance with the lungs hidden,
# it is using something else: borders, collimation, markers, body size. Each model is
# scored on a stratified sample of at most 300 of its test images (three passes over
# the whole test set at 192 px would take most of this chapter's time on a CPU); the
# `images` column says how many, and "as is" is the accuracy on that same sample.

# %% tags=["nbval-check-output"]
occlusion = explain.occlusion_table(study_runs, lambda model: chapter.images_for(model, params, images))
print(list(occlusion.columns))

# %%
chapter.show_table(occlusion, 3)

# %% [markdown]
# ## Other hospitals, adults
#
# The held-out set is COVID images from a later release (mostly BIMCV, Valencia) and
# *adult* normal X-rays from another source (RSNA), none of them seen in training. It
# comes from `external_dir`, from an `external` folder beside the data, or, with the
# 2021 download and `data_subset=study`, from the files the study subset left out.
# The lines below say which, and the table where its images come from. With the
# study's data the training normals were all children: a model that learned "adult
# means COVID" will call the adult normals COVID.

# %%
held_out = {}
for size in sorted({chapter.images_for(model, params, images).image_size for model, _ in study_runs}):
    held_out[size] = chapter.open_external(params, images, size)
    if held_out[size] is None:
        break  # the note says why; no other input size has a held-out set either
if all(held_out.values()):
    chapter.show_table(data.provenance_table(next(iter(held_out.values()))))

# %%
if all(held_out.values()):
    recall = explain.held_out_recall(
        study_runs, lambda model: held_out[chapter.images_for(model, params, images).image_size]
    )
    chapter.show_table(recall, 3)

# %% [markdown]
# The committed full-study runs (chapter 6) are numbers without weights, so no
# held-out recall exists for them: this table is this build's, from the profile named
# above. Read it by row: `recall` is the share of that class's held-out images the
# model labelled correctly, with an exact 95 % interval; the `called ...` columns say
# where the others went. Normal recall far below its in-distribution value, with the
# misses going to COVID, is the age-and-hospital shortcut made visible.
#
# ## What such a model can and cannot claim
#
# It *can* claim that images in this collection are separable: its test accuracy,
# with an interval. It *cannot* claim to detect COVID-19: the classes differ in age,
# hospital and processing, the models may use those differences, and their accuracy
# on new hospitals is unknown until measured. DeGrave and colleagues {cite}`degrave2021`
# found exactly such shortcuts in COVID-19 radiograph classifiers; Roberts and
# colleagues {cite}`roberts2021` found none of 2,212 published models fit for clinical
# use, most for these reasons.
#
# ## Summary
#
# - Heatmaps hint at where a decision comes from; they do not prove reasoning.
# - Accuracy that survives hiding the lungs measures a shortcut.
# - A held-out set from other hospitals and ages is the honest test.
#
# ## Exercises
#
# 1. Change `explain.CHEST_BOX` to a smaller box. At what size does accuracy with the
#    "chest hidden" fall to chance?
# 2. Compare `method="gradcam"` and `method="hirescam"` in `explain.heatmaps` on the same
#    images. Where do they disagree, and why?
# 3. Which training-data change would you make first to remove the age shortcut?
