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
# `data_subset=all` on the full 2021 download most normals are adults instead:
# Exercise 3 checks what your copy holds.)

# %% [markdown]
# ## How many images per class?
#
# The study used 1,200 COVID, 1,341 normal and 1,345 viral pneumonia images. The
# counts below are those of the chosen subset, then of the images this run uses
# (after the profile's `per_class` limit).

# %% tags=["nbval-check-output"]
print(f"data_subset={params.data_subset}:", full_index.counts)
print("images used here:", images.counts, "as", images.images.shape, images.images.dtype)

# %% tags=["remove-input"]
study_counts = {"COVID": 1200, "Normal": 1341, "Viral Pneumonia": 1345}
short = {name: study_counts[name] - n for name, n in full_index.counts.items() if study_counts.get(name, n) > n}
if images.synthetic:
    count_note = "The synthetic stand-in has its own, generated counts: they say nothing about the study's data."
elif short:
    missing = ", ".join(f"{n:,} fewer {name}" for name, n in short.items())
    count_note = (
        f"Your copy holds fewer images than the study's classes had ({missing}): it is a selection, "
        "not the complete 2020 classes. Every later chapter counts what your copy holds."
    )
else:
    count_note = "Every later chapter counts what your copy holds, as above."
glue("count_note", count_note)
glue.prose("{count_note}")

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

# %% tags=["remove-input"]
gray_of = [images.images[images.labels == k][..., 0] for k in range(len(images.class_names))]
means = [float(g.mean()) for g in gray_of]
white_from = 252  # the histogram's last bin (64 bins over 0-255) holds 252 to 255
white = [float((g >= white_from).mean()) for g in gray_of]
glue("white_from", white_from)
order, by_white = sorted(range(len(means)), key=means.__getitem__), sorted(range(len(white)), key=white.__getitem__)
glue("brightest", images.class_names[order[-1]])
glue("brightest_mean", means[order[-1]])
glue("darkest", images.class_names[order[0]])
glue("darkest_mean", means[order[0]])
top, second = by_white[-1], by_white[-2]
glue("whitest", images.class_names[top])
glue("white_share", white[top])
glue("white_next", images.class_names[second])
glue("white_next_share", white[second])
bump = white[top] > 0.001 and white[top] > 5 * white[second]
glue("bump_note", "That is the bump at the right end of its curve. " if bump else "")
cue_note = (
    "Brightness, contrast and saturated white depend on the scanner, the exposure setting and each source's "
    "processing as well as on the chest, so they are cues a CNN can use without reading lung tissue."
)
glue("cue_note", "On the synthetic stand-in these differences were drawn in on purpose." if images.synthetic else cue_note)

# %% tags=["remove-input"]
glue.prose(
    """
Here {brightest} images are the brightest on average (mean pixel value {brightest_mean:.0f} of 255),
{darkest} images the darkest ({darkest_mean:.0f}). {whitest} has the largest share of near-white
pixels ({white_from} to 255, the histogram's last bin): {white_share:.2%} of its pixels, against
{white_next_share:.2%} for {white_next}, the next. {bump_note}{cue_note}
"""
)
# %% [markdown]
# ## The raw files
#
# A survey of formats, pixel modes and sizes, read from the file headers. When
# image size differs between classes, size alone reveals the class; the loader
# resizes every image to the same square, so the models never see the file sizes.

# %%
survey = data.survey_files(full_index)
page.show_table(survey)

# %% tags=["remove-input"]
sizes = sorted(size.replace("x", "×") for size in set(survey["size (px)"]) - {"-"})
per_class = survey[survey["size (px)"] != "-"].groupby("class")["size (px)"].agg(set)
if images.synthetic:
    size_note = f"Every file of the synthetic stand-in is {', '.join(sizes)}: it is generated at that size."
elif len(sizes) == 1 and full_index.release == "2021" and sizes[0] != "299×299":
    size_note = (
        f"Every file here is {sizes[0]}, in every class: these are resized copies, since the Kaggle "
        "2021 release's images are 299×299. Size cannot reveal the class, but any detail lost in the "
        "resizing is lost to every model."
    )
elif len(sizes) == 1:
    size_note = f"Every file here is {sizes[0]}, in every class: size cannot reveal the class."
elif all(a.isdisjoint(b) for a in per_class for b in per_class if a is not b):
    size_note = f"The files come in {len(sizes)} sizes, none shared by two classes: size alone reveals the class."
else:
    size_note = f"The files come in {len(sizes)} sizes ({', '.join(sizes)}), some shared between classes."
glue("size_note", size_note)
glue.prose("{size_note}")

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
page.show_table(duplicates.head(10).filter(["file_a", "file_b", "kind", "distance", "crosses_split"]))  # names carry the class

# %% tags=["remove-input"]
glue("searched", len(images))
glue("files_found", len(full_index.files))
glue.prose(
    """
The search covered the {searched} images this run loaded (of {files_found} files in the
chosen subset). It finds copies of one *image*, not one *patient* imaged twice: two
radiographs of one patient taken on different days are different images, which the search
is not built to match, and the file names carry no patient identifiers, so a split by image,
like the study's, can still put one patient on both sides.
"""
)

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
# One number hides which classes the blur separates. The same classifier, on the same
# five folds, predicting each image once from the fold that held it out:

# %%
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

gray = images.images[..., 0].astype(np.float32)
f = gray.shape[1] // thumb  # each thumbnail pixel is the mean of an f x f block, as in thumbnail_baseline
thumbs = gray[:, : f * thumb, : f * thumb].reshape(len(gray), thumb, f, thumb, f).mean(axis=(2, 4))
classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
folds = StratifiedKFold(5, shuffle=True, random_state=params.seed)
predicted = cross_val_predict(classifier, thumbs.reshape(len(gray), -1), images.labels, cv=folds)
matrix = confusion_matrix(images.labels, predicted)  # rows: true class, columns: predicted class
for name, row, hits in zip(images.class_names, matrix, matrix.diagonal()):
    print(f"{name}: recall {hits / row.sum():.0%}; predicted as", dict(zip(images.class_names, row.tolist())))

# %% tags=["remove-input"]
names = list(images.class_names)
mistakes = int(matrix.sum() - matrix.trace())
pair = [names.index(n) for n in ("Normal", "Viral Pneumonia") if n in names]
between = int(matrix[pair[0], pair[1]] + matrix[pair[1], pair[0]]) if len(pair) == 2 else 0
hospitals = sources.groupby("class")["hospital"].agg(set).to_dict()
one_hospital = hospitals.get("Normal", set()) == hospitals.get("Viral Pneumonia") and len(hospitals["Normal"]) == 1
shared = not images.synthetic and one_hospital and hospitals["Normal"].isdisjoint(hospitals.get("COVID", set()))
recall = matrix.diagonal() / matrix.sum(axis=1)
glue("recall_text", ", ".join(f"{r:.0%} of the {n} images" for n, r in zip(names, recall)))
between_share = f"{between / mistakes:.0%}" if mistakes else "-"
mistake_note = f"{between} of its {mistakes} mistakes ({between_share}) confuse Normal with Viral Pneumonia."
glue("mistake_note", mistake_note if mistakes else "It made no mistakes.")

# %% tags=["remove-input"]
if shared:
    source_note = (
        "Normal and Viral Pneumonia images come from the same hospital and age group here, COVID images from other "
        "hospitals and from adults. What sets COVID apart at this resolution can be source and age as well as "
        "disease. What sets Normal apart from Viral Pneumonia cannot be the hospital; it can be the disease, since "
        "a diffuse opacity is itself a coarse change, or any other difference within that hospital's images."
    )
elif images.synthetic:
    source_note = "On the synthetic stand-in the classes differ, on purpose, by drawn body size and drawn opacities."
else:
    source_note = "The source table above says which classes share a hospital here."
glue("source_note", source_note)
glue.prose(
    """
Per class, the thumbnail classifier found {recall_text}. {mistake_note}
{source_note}

So a high thumbnail score shows that coarse, low-resolution differences suffice to separate
these classes; it does not show that those differences are not pathology. Which ones the
trained models use is what chapter 8 tests: it hides the lungs from them, and tests them on
adults from other hospitals.
"""
)

# %% [markdown]
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
- Duplicates that straddle the split leak test images into training: among the {searched}
  images of this run the search found {duplicate_pairs} pairs, {duplicates_crossing} of them
  across the split. It cannot find one patient imaged twice.
- A logistic regression on {thumb}×{thumb} thumbnails scored {blur_accuracy:.0%} here (chance: one in three):
  coarse, low-resolution differences suffice to separate the classes that well. Whether they
  are disease or source is what chapter 8 tests.
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
scores = {}
for size in (1, 2, 4, 8, 16):
    scores[size] = evaluation.thumbnail_baseline(images.images, images.labels, size=size, seed=params.seed)
    print(f"{size:>2}x{size:<2} thumbnail: {scores[size]:.0%}")

# %% tags=["remove-input"]
glue("one_pixel", scores[1])
glue("best_size", max(scores, key=scores.get))
glue("best_score", max(scores.values()))
glue.prose(
    """
The 1×1 "thumbnail", each image's mean brightness and nothing else, scored {one_pixel:.0%}
(chance: one in three); the best size here was {best_size}×{best_size}, at {best_score:.0%}. Where the
1×1 score is well above chance, overall brightness alone goes with the class in this
collection, and brightness is set by exposure, scanner and processing as well as by the chest.
"""
)

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

# %% tags=["remove-input"]
every_sources = data.provenance_table(every_file)
normals = every_sources[every_sources["class"] == "Normal"]
adult_share = normals.loc[normals["age group"] == "adults", "images"].sum() / max(normals["images"].sum(), 1)
shortcut = (
    "the age shortcut weakens for Normal, but a hospital shortcut appears in its place "
    "(adult normals from one US source, adult COVID images from others)"
)
full_download = f"On the full 2021 download `all` adds 8,851 adult normals (RSNA challenge, US): {shortcut}."
if images.synthetic:
    all_note = "The synthetic stand-in has no 2021 additions, so `all` changes nothing here. " + full_download
elif adult_share > 0:
    all_note = f"Here `all` holds {len(every_file.files):,} files, and {adult_share:.0%} of its normals are adults: {shortcut}."
else:
    all_note = (
        f"Your copy holds none of the 2021 adult normals: `all` finds {len(every_file.files):,} files (the study "
        f"subset: {len(full_index.files):,}) and every normal is still a child's. " + full_download
    )
glue("all_note", all_note)
glue.prose("{all_note}")

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

# %% tags=["remove-input"]
position = {f: i for i, f in enumerate(images.files)}


def pixel_difference(table):
    """Median over pairs of the mean absolute difference of the two images, in grey levels (0-255)."""
    gaps = [
        np.abs(images.images[position[r.file_a], ..., 0].astype(np.int16) - images.images[position[r.file_b], ..., 0]).mean()
        for r in table.itertuples()
    ]
    return float(np.median(gaps)) if gaps else float("nan")


added, close = wider[wider.distance > 2], wider[wider.distance <= 2]
added_diff, close_diff = pixel_difference(added), pixel_difference(close)
if not len(added):
    found = "In this run no new pairs came in at 3 to 6 bits."
else:
    found = (
        f"In this run {len(added)} new pairs came in at 3 to 6 bits, {int((added.class_a != added.class_b).sum())} "
        f"of them between two classes (two radiographs, or a labelling error); the two images of a new pair differ "
        f"by {added_diff:.0f} grey levels per pixel (median over pairs)"
        + (f", those of a pair within 2 bits by {close_diff:.0f}" if len(close) else "") + "."
    )
    if len(close) and added_diff > 2 * close_diff:
        found += " The new pairs differ far more than the close ones: most are likely look-alikes, not copies."
glue("wider_note", found)

# %% tags=["remove-input"]
glue.prose(
    """
Not necessarily, and the hash says why. A 64-bit perceptual hash keeps only the
coarsest pattern of a shrunken, blurred image, so a few more bits of tolerance admit images that
share layout and exposure without being one radiograph. A copy must also agree in the details the
hash throws away: text markers, wires and tubes, the outline of ribs, heart and clavicles; two
different radiographs differ there even when their layout agrees. {wider_note}
"""
)
