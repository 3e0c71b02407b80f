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
# ## Loading the images
#
# Every chapter starts the same way. `plan.collect` reads the profile named in the
# parameters cell (`quick` unless you change it) with your `overrides`, and checks
# them. `plan.open_data` looks for the dataset in `data_dir`, then in the folder
# named by the `XRAY_DATA_DIR` environment variable, then in `./data`; with nothing
# found it uses a small synthetic stand-in and says so loudly. Decoded images are
# cached on disk, so the next chapter gets them in a fraction of a second.

# %%
from xray_utils import data, evaluation, page, plan, plots

params = plan.collect(globals())
glue = page.Glue()  # this run's numbers, for the prose that quotes them
glue("model_size", params.image_size)
images = plan.open_data(params, image_size=max(params.image_size, 128))
page.show_banner(images.synthetic)
glue("view_size", images.image_size)
print(f"profile {params.profile}: the models see {params.image_size} px, this chapter {images.image_size} px")

# %% tags=["remove-input"]
glue.prose(
    """
The models of this run see images {model_size} pixels wide. To see what
is in them, this chapter loads them {view_size} pixels wide instead.
"""
)

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
full_index = data.resolve_dataset(params.data_dir, subset=params.data_subset)
print(f"data_subset={full_index.data_subset}: {full_index.subset_reason}")

# %% [markdown]
# ## Where the images come from
#
# The table is computed from the files chosen above (file numbers tell the sources
# apart in the 2021 release {cite}`chowdhury2020,rahman2021,kermany2018`), so it is
# true for whatever you downloaded and whichever subset you chose.

# %%
sources = data.provenance_table(full_index)
page.show_table(sources)
print(data.age_summary(sources))

# %% [markdown]
# With the study's data, the classes have *different origins*: every COVID image is
# an adult's, from many hospitals and publications, while every normal and viral
# pneumonia image is a child's (aged 1–5) from one hospital in Guangzhou
# {cite}`kermany2018`. Keep that in mind: a model can tell the classes apart by *who*
# and *where* as easily as by *what disease*. That is a {term}`confound`, and a model
# that uses it has learned a {term}`shortcut <shortcut learning>`. (With
# `data_subset=all` most normals are adults instead: read the age line above.)

# %% [markdown]
# ## How many images per class?
#
# The study used 1,200 COVID, 1,341 normal and 1,345 viral pneumonia images. The
# counts below are those of the chosen subset, then of the images this run uses
# (after the profile's `per_class` limit).

# %% tags=["nbval-check-output"]
print(f"data_subset={params.data_subset}:", full_index.counts)
print("images used here:", images.counts, "as", images.images.shape, images.images.dtype)

# %% mystnb={"image": {"alt": "Bar chart of the number of images in each class."}}
plots.class_counts(images.counts, synthetic=images.synthetic);
# %% [markdown]
# ## What the images look like
#
# Four random images of each class. Look at the body size, the borders, the text
# markers and the exposure, not only at the lungs.

# %% mystnb={"image": {"alt": "A grid of example chest X-rays, one row per class."}}
plots.sample_grid(images.images, images.labels, images.class_names, synthetic=images.synthetic, files=images.files);
# %% [markdown]
# ## Pixel intensities
#
# If the classes differ in overall brightness or contrast, a CNN can use that
# without ever looking at lung tissue.

# %% mystnb={"image": {"alt": "Histograms of pixel intensity (0 to 255) for each class."}}
plots.intensity_histograms(images.images, images.labels, images.class_names, synthetic=images.synthetic);
# %% [markdown]
# ## The raw files
#
# A survey of formats, pixel modes and sizes, read from the file headers. When
# image size differs between classes (as in the raw 2020 release), size alone
# reveals the class; the images are then all resized to the same square.

# %%
page.show_table(data.survey_files(full_index))

# %% [markdown]
# ## Duplicates
#
# Exact copies (same bytes) and near copies (perceptual hashes at most 2 bits apart)
# inflate a test score when one copy is in the training set and the other in the
# {term}`test set`: the model is then tested on an image it has, in effect, already
# seen, a form of {term}`data leakage`. Here with the study's 80/20
# {term}`stratified split`:

# %%
split = data.study_split(images.labels, seed=params.seed)
duplicates = data.find_duplicates(images, split)
crossing = int(duplicates.crosses_split.sum()) if len(duplicates) else 0
print(
    f"{(duplicates.kind == 'exact').sum()} exact and {(duplicates.kind == 'near').sum()} near-duplicate pairs; "
    f"{crossing} of them straddle train and test."
)
glue("duplicate_pairs", len(duplicates))
glue("duplicates_crossing", crossing)
page.show_table(duplicates.head(10))

# %% [markdown]
# ## The confound, in pictures
#
# Averaging all images of a class washes out individual anatomy and leaves what the
# class has *in common*. Children's chests fill less of the frame than adults';
# collimation, borders and markers differ between hospitals.

# %% mystnb={"image": {"alt": "The average image of each class, side by side."}}
plots.mean_images(images.images, images.labels, images.class_names, synthetic=images.synthetic);
# %% tags=["nbval-check-output"]
thumb = 8  # the blur's side, in pixels
blur_accuracy = evaluation.thumbnail_baseline(images.images, images.labels, size=thumb, seed=params.seed)
glue("thumb", thumb)
glue("thumb_values", thumb * thumb)
glue("blur_accuracy", blur_accuracy)
print(f"{thumb}x{thumb}-thumbnail logistic regression, 5-fold accuracy: {blur_accuracy:.0%} (chance: {1 / 3:.0%})")

# %% tags=["remove-input"]
glue.prose(
    """
How much can be told from coarse appearance alone? A plain logistic regression that
sees each image only as a {thumb}×{thumb} blur
({thumb_values} numbers, no lung detail at all), scored by 5-fold
cross-validation:
"""
)

# %% [markdown]
# If that number is far above chance (one in three), part of what any CNN learns here
# is *not* pathology. Chapter 8 measures how much: it hides the lungs from the
# trained models, and tests them on adults from other hospitals.
#
# ## Summary

# %% tags=["remove-input"]
glue.prose(
    """
- The study's data is a subset of today's download (`data_subset=study`), chosen by
  file number; the 2021 additions are other hospitals and adults.
- With the study's data the three classes come from different sources: adult COVID
  images from many places, paediatric normal and viral pneumonia images from one
  hospital.
- Images are loaded once, as `uint8`, and cached; the models scale them themselves.
- Duplicates that straddle the split leak test images into training: this run found
  {duplicate_pairs} pairs, {duplicates_crossing} of them
  across the split.
- A blurred thumbnail alone scored {blur_accuracy:.0%} here. The further
  that is above chance, the more a model can score without looking at the lungs.
"""
)

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** How coarse can the picture get before the classes stop being
# separable? Score the thumbnail baseline at several sizes. A size of 1 keeps only
# each image's mean brightness.

# %% tags=["solution"]
# solution: score thumbnails of several sizes, e.g. 1, 2, 4, 8, 16, with evaluation.thumbnail_baseline
for size in (1, 2, 4, 8, 16):
    score = evaluation.thumbnail_baseline(images.images, images.labels, size=size, seed=params.seed)
    print(f"{size:>2}x{size:<2} thumbnail: {score:.0%}")
# Where even the 1x1 "thumbnail" (mean brightness) is well above chance, exposure alone tells the classes apart.

# %% [markdown]
# **Exercise 2.** List the non-medical differences you can see between the classes
# (markers, borders, body size, contrast). Then put numbers on two of them: the mean
# brightness of each class, and the brightness of a thin frame along the image edge.

# %% tags=["solution"]
border = 0.1  # the frame's width, as a share of the image side
# solution: for each class, the mean of images.images over the whole image and over the frame only
import numpy as np
import pandas as pd

gray = images.images[..., 0]  # uint8; the means below accumulate in float64 without copying every image
width = max(1, int(border * gray.shape[1]))
frame = np.ones(gray.shape[1:], bool)
frame[width:-width, width:-width] = False
rows = []
for k, name in enumerate(images.class_names):
    members = gray[images.labels == k]
    rows.append(
        {
            "class": name,
            "mean brightness": members.mean(),
            "frame brightness": members[:, frame].mean(),
            "contrast (std)": members.std(),
        }
    )
page.show_table(pd.DataFrame(rows), 1)

# %% [markdown]
# **Exercise 3.** What would change with `data_subset = "all"` (every file of the
# three classes, with the 2021 release)? Compare the source table and the age line of
# both subsets without training anything: they are read from file names.

# %% tags=["solution"]
# solution: open every file (data.resolve_dataset(params.data_dir, subset="all")) and compare the ages
every_file = data.resolve_dataset(params.data_dir, subset="all")
print(f"data_subset=all: {every_file.subset_reason}")
print(data.age_summary(data.provenance_table(every_file)))
# With the 2021 release most normals are then adults (RSNA): the age shortcut weakens for Normal,
# but a hospital shortcut appears (adult normals from one US source, adult COVID from others).

# %% [markdown]
# **Exercise 4.** The near-duplicate search counts two images as copies when their
# perceptual hashes differ in at most `max_distance` bits (default 2). Raise it and
# look at the new pairs: are they really the same radiograph?

# %% mystnb={"image": {"alt": "Pairs of chest X-rays whose perceptual hashes differ in 3 to 6 bits, side by side."}} tags=["solution"]
# solution: find near-duplicates at a larger distance (data.find_duplicates(..., max_distance=6)) and look at the new pairs
wider = data.find_duplicates(images, split, max_distance=6)
new = wider[wider.distance > 2].head(4)
print(f"{len(wider)} pairs at up to 6 bits, {int((wider.distance > 2).sum())} of them new")
if len(new):
    position = {f: i for i, f in enumerate(images.files)}
    pairs = [position[f] for row in new.itertuples() for f in (row.file_a, row.file_b)]
    plots.sample_grid(
        images.images[pairs],
        np.repeat(np.arange(len(new)), 2),
        [f"pair {k + 1}" for k in range(len(new))],
        per_class=2,
        title="New near-duplicate pairs: the same radiograph?",
        synthetic=images.synthetic,
    )
