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
# # Can deep learning tell COVID-19 from a chest X-ray?
#
# In 2020, many studies reported that convolutional neural networks could tell
# COVID-19, viral pneumonia and normal chest X-rays apart with 95–99 % accuracy. This
# book rebuilds one such study step by step: four Keras models trained on the
# COVID-19 Radiography Database {cite}`chowdhury2020`, from a plain CNN to a
# DenseNet121 that the study started from CheXNet's weights {cite}`rajpurkar2017`. It
# keeps what the original did, and says plainly where it went wrong: it steered its
# training with its own test set and then reported that set as unseen, it reported a
# single run per model, and it never asked *what* its models had learned. Later work
# found that models trained on such data often rely on confounds rather than
# pathology {cite}`degrave2021`. A review of the field {cite}`roberts2021` identified
# 2,212 studies of machine learning for COVID-19 imaging, examined the 62 that met its
# quality criteria, and judged none of them of potential clinical use.

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

# %% tags=["remove-input"]
from xray_utils import full_study, narrative, page, plan, plots, project

params = plan.collect(globals())
images = plan.open_data(params)
page.show_banner(images.synthetic)

# %% [markdown]
# ## Results: the original, the full reproduction, and this build
#
# Test accuracy of the four models with the study's protocol, with an exact 95 %
# interval, in three columns: what the original study published; *the full study*,
# this project's code run at the study's settings (192×192 inputs, 50 epochs, every
# image of the project's reconstruction of the study's data) on a GPU, committed to
# the repository as numbers (its data, hardware and date are printed below the
# table); and this build's own runs, whose profile is named in the column. The
# `quick` profile (small images, a subset, few epochs) is a demonstration, not a
# reproduction. Each row is labelled with the weights its model started from.

# %% tags=["remove-input"]
table = plan.study_results(params, images)
full = full_study.load_full_study()
page.show_table(full_study.headline(full, table, params.profile, synthetic=images.synthetic))
print(full.describe() if full else "No full-study results found in results/full.")
print(f"This build: the {params.profile} profile, on the images described above.")

# %% tags=["remove-input"]
glue = page.Glue()
glue("full_data", full.data_sentence() if full else "")
glue("m4_lesson", narrative.weights_lesson_sentence(full))
glue("full_spread", narrative.full_spread_sentence(full_study.load_seed_runs(full) if full else {}))
glue("gaps", narrative.published_gaps_summary(full))
glue("build_spread", narrative.build_spread_sentence(params, table, images.synthetic))
glue.prose(
    """
{full_data} {gaps} {m4_lesson} {full_spread}

{build_spread}
"""
)

# %% mystnb={"image": {"alt": "Test accuracy of each model in this build with its 95 % interval, next to the accuracy the original study published."}} tags=["remove-input"]
if table is not None:
    plots.accuracy_comparison(table, synthetic=images.synthetic, full=full.study_runs() if full else None)

# %% [markdown]
# ## What is in the book
#
# - {doc}`../dataset`: where the images come from, and why that matters.
# - Chapter 1 looks at the data; chapters 2 to 5 build and train the four models with
#   the study's recipe, beside a corrected protocol.
# - Chapter 6 compares the models and measures what steering training with the test
#   set changed; chapter 7 puts error bars on every number; chapter 8 asks whether the
#   models look at the lungs at all, and tests them on adults from other hospitals.
# - {doc}`../closing` sums up what the study claimed and what holds;
#   {doc}`../glossary` explains the terms.
#
# ## How to run it
#
# On a fresh machine with Python 3.11 to 3.13, from the repository root:
#
# ```bash
# make book   # installs into .venv, runs every chapter (quick profile), builds this book
# make test   # installs into .venv, runs the tests, every chapter (checked against its committed twin) and a book build
# ```
#
# The book lands in `_build/html/index.html`. Point `XRAY_DATA_DIR` at the unzipped
# [Kaggle dataset](https://www.kaggle.com/datasets/tawsifurrahman/covid19-radiography-database)
# to use real images; without it the book runs on a synthetic stand-in and says so
# on every page. `make book PROFILE=full` runs the study's settings (192×192, all
# images, 50 epochs: days of training on a CPU, so train on a GPU first, see the
# README). To step through the chapters yourself, run `.venv/bin/jupyter lab` and
# open `notebooks/`: each `.py` file is paired with its `.ipynb`, and saving one
# updates the other. In Colab, the first cell of every notebook installs the book's
# package; the parameters cell at the top (`profile`, `overrides`) chooses the run.
#
# ## What the data is, and is not
#
# Read {doc}`../dataset` before trusting any number here. In short: the COVID images
# are adults from many hospitals; the normal and viral pneumonia images are children
# from one. A model can separate the classes by age and hospital without looking at
# the lungs at all.

# %% [markdown]
# ## How to cite
#
# Cite the book as below; the repository's `CITATION.cff` holds the same entry for
# reference managers (GitHub offers it as "Cite this repository"). If you use the
# X-ray images, cite the articles that describe them too
# {cite}`chowdhury2020,rahman2021`. The code is under the MIT licence and the text
# and figures under the Creative Commons Attribution licence (CC BY), as the page
# footer says; neither covers the X-ray images, which keep their sources' own terms
# (see {doc}`../dataset`).

# %% tags=["remove-input"]
glue("citation", project.how_to_cite())
glue.prose("{citation}")
