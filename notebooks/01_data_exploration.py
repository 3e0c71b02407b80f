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
# # 1. The data: what the X-rays are, and what they hide
#
# Before training anything we look hard at the images. A classifier can only be as
# honest as its data, and this dataset has a well-known weakness that the original
# study never mentioned.
#
# **Learning goals**
#
# - know where the three classes of the COVID-19 Radiography Database come from, and
#   which files of today's download are the study's;
# - count, view and compare the images of each class;
# - check the raw files (formats, sizes) and find duplicates;
# - *see* the confound: the COVID images are adults from many hospitals, the others
#   children from one.

# %% tags=["parameters"]
profile = "quick"
data_dir = None
data_subset = "study"
per_class = 400
image_size = 32
channels = 3
seed = 1987

# %% [markdown]
# ## Loading the images
#
# `chapter.open_data` looks for the dataset in `data_dir`, then in the folder named by
# the `XRAY_DATA_DIR` environment variable, then in `./data`. With nothing found it
# uses a small synthetic stand-in and says so loudly. Decoded images are cached on
# disk, so the next chapter gets them in a fraction of a second. The models may see
# small images (the `quick` profile: 32×32); this chapter looks at them at 128×128 or
# more, so that you can see what is in them.

# %%
from xray_utils import chapter, data, evaluation, plots

params = chapter.collect(globals())
images = chapter.open_data(params, image_size=max(params["image_size"], 128))

# %% [markdown]
# ## Which files are the study's
#
# The database was assembled in 2020 by a team from Qatar University and the
# University of Dhaka {cite}`chowdhury2020` and extended in 2021 {cite}`rahman2021`.
# Kaggle now serves the 2021 release: 3,616 COVID, 10,192 normal and 1,345 viral
# pneumonia images (plus 6,012 "lung opacity"). The study used the 2020 release:
# 1,200 / 1,341 / 1,345. The 2021 additions are not more of the same: most of the
# new normals are *adults* from an American challenge dataset, most of the new COVID
# images come from hospitals in Valencia. The `data_subset` parameter decides what is
# trained on: `study` (the default) keeps the 2020 classes, found by their file
# numbers; `all` takes every file. The line below says which ran, and why.

# %%
full_index = data.resolve_dataset(params["data_dir"], subset=params["data_subset"])
print(f"data_subset={full_index.data_subset}: {full_index.subset_reason}")

# %% [markdown]
# ## Where the images come from
#
# The table is computed from the files chosen above (file numbers tell the sources
# apart in the 2021 release {cite}`chowdhury2020,rahman2021,kermany2018`), so it is
# true for whatever you downloaded and whichever subset you chose.

# %%
sources = data.provenance_table(full_index)
chapter.show_table(sources)
print(data.age_summary(sources))

# %% [markdown]
# With the study's data, the classes have *different origins*: every COVID image is
# an adult's, from many hospitals and publications, while every normal and viral
# pneumonia image is a child's (aged 1–5) from one hospital in Guangzhou
# {cite}`kermany2018`. Keep that in mind: a model can tell the classes apart by *who*
# and *where* as easily as by *what disease*. (With `data_subset=all` most normals
# are adults instead: read the age line above.)

# %% [markdown]
# ## How many images per class?
#
# The study used 1,200 COVID, 1,341 normal and 1,345 viral pneumonia images. The
# counts below are those of the chosen subset, then of the images this run uses
# (after the profile's `per_class` limit).

# %% tags=["nbval-check-output"]
print(f"data_subset={params['data_subset']}:", full_index.counts)
print("images used here:", images.counts, "as", images.images.shape, images.images.dtype)

# %% mystnb={"image": {"alt": "Bar chart of the number of images in each class."}}
plots.class_counts(images.counts, synthetic=images.synthetic)
# %% [markdown]
# ## What the images look like
#
# Four random images of each class. Look at the body size, the borders, the text
# markers and the exposure, not only at the lungs.

# %% mystnb={"image": {"alt": "A grid of example chest X-rays, one row per class."}}
plots.sample_grid(images.images, images.labels, images.class_names, synthetic=images.synthetic, files=images.files)
# %% [markdown]
# ## Pixel intensities
#
# If the classes differ in overall brightness or contrast, a CNN can use that
# without ever looking at lung tissue.

# %% mystnb={"image": {"alt": "Histograms of pixel intensity (0 to 255) for each class."}}
plots.intensity_histograms(images.images, images.labels, images.class_names, synthetic=images.synthetic)
# %% [markdown]
# ## The raw files
#
# A survey of formats, pixel modes and sizes, read from the file headers. When
# image size differs between classes (as in the raw 2020 release), size alone
# reveals the class; the images are then all resized to the same square.

# %%
chapter.show_table(data.survey_files(full_index))

# %% [markdown]
# ## Duplicates
#
# Exact copies (same bytes) and near copies (perceptual hashes at most 2 bits apart)
# inflate a test score when one copy is in the training set and the other in the
# test set. Here with the study's 80/20 split:

# %%
split = data.study_split(images.labels, seed=params["seed"])
duplicates = data.find_duplicates(images, split)
print(
    f"{(duplicates.kind == 'exact').sum()} exact and {(duplicates.kind == 'near').sum()} near-duplicate pairs; "
    f"{int(duplicates.crosses_split.sum()) if len(duplicates) else 0} of them straddle train and test."
)
chapter.show_table(duplicates.head(10))

# %% [markdown]
# ## The confound, in pictures
#
# Averaging all images of a class washes out individual anatomy and leaves what the
# class has *in common*. Children's chests fill less of the frame than adults';
# collimation, borders and markers differ between hospitals.

# %% mystnb={"image": {"alt": "The average image of each class, side by side."}}
plots.mean_images(images.images, images.labels, images.class_names, synthetic=images.synthetic)
# %% [markdown]
# How much can be told from coarse appearance alone? A plain logistic regression that
# sees each image only as an 8×8 blur (64 numbers, no lung detail at all):

# %% tags=["nbval-check-output"]
blur_accuracy = evaluation.thumbnail_baseline(images.images, images.labels, size=8, seed=params["seed"])
print(f"8x8-thumbnail logistic regression, 5-fold accuracy: {blur_accuracy:.0%} (chance: {1 / 3:.0%})")

# %% [markdown]
# If that number is far above chance, part of what any CNN learns here is *not*
# pathology. We come back to this in the evaluation chapter.
#
# ## Summary
#
# - The study's data is a subset of today's download (`data_subset=study`), chosen by
#   file number; the 2021 additions are other hospitals and adults.
# - Three classes from different sources: adult COVID images from many places,
#   paediatric normal and viral pneumonia images from one hospital.
# - Images are loaded once, as `uint8`, and cached; the models scale them themselves.
# - Duplicates exist and some straddle the split.
# - Coarse appearance alone separates the classes well above chance: a warning sign.
#
# ## Exercises
#
# 1. Change `per_class` and `image_size` in the parameters cell. Does the thumbnail
#    baseline change much? Why would it not?
# 2. Open five images of each class at full size. List every non-medical difference
#    you can see (markers, borders, size, contrast).
# 3. Set `data_subset = "all"` in the parameters cell (with the 2021 release). How do
#    the source table and the age line change? What would a model learn first?
# 4. Raise `max_distance` in `data.find_duplicates` to 6. Look at the new pairs: are
#    they really the same radiograph?
