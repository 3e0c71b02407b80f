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
# weights). Each model's images are opened once, at its input size. The section *At
# full scale* near the end sets the full study's own answers beside them, where the
# repository holds them as numbers.

# %%
import numpy as np
import pandas as pd

from xray_utils import data, evaluation, evidence, explain, full_study, narrative, page, plan, plots
from xray_utils.pipeline import predict_proba

params = plan.collect(globals())  # this build's settings: the profile above and its overrides
images = plan.open_data(params)

# %% tags=["remove-input"]
page.show_banner(images.synthetic)
glue = page.Glue()  # this run's numbers, for the prose that quotes them
runs = plan.load_runs(params, images)
study_runs = {key: run for key, run in runs.items() if key[1] == "study"}
model_images = {model: plan.images_for(model, params, images) for model, _ in study_runs}
models = {model: run.load_model() for (model, _), run in study_runs.items()}
labels = {key: full_study.model_label(run) for key, run in study_runs.items()}  # e.g. "Model 4: DenseNet121, ..."
print(f"Heatmaps, occlusion and held-out recall below use this build's models ({params.profile} profile).")

# %% tags=["remove-input"]
short = {model: evaluation.MODEL_TITLES[model].split(":")[0] for model, _ in study_runs}  # "Model 1"
scales = {}
for (model, _), run in study_runs.items():
    trained = int(run.metrics.get("epochs_run", run.config["epochs"]))
    scales.setdefault((run.config["image_size"], trained), []).append(short[model])
glue("profile", params.profile)
glue(
    "build_models",
    "; ".join(f"{', '.join(names)}: {size} px, {epochs} epochs" for (size, epochs), names in scales.items()),
)
glue("build_short", " and ".join(f"{size}-px, {epochs}-epoch" for size, epochs in scales) + f" {params.profile}-profile models")
glue.prose(
    """
Every heatmap, occlusion score and held-out recall in this chapter comes from this
build's own models: {build_short} ({build_models}). What they show is how
*these* models behave; the end of the chapter says what it would take to say the
same of the study's models at full scale.
"""
)

# %% [markdown]
# ## Where does the decision come from?

# %% [markdown]
# The maps are computed on the images at each model's input size; the same files are
# shown at 128 pixels or more, with the map stretched (bilinearly) over them.

# %% mystnb={"image": {"alt": "Grad-CAM heatmaps over test X-rays for each model: up to one right and one wrong prediction of each class."}}
shown_images = images if images.image_size >= 128 else plan.open_data(params, image_size=128)
sides = {model: explain.target_layer(models[model]).output.shape[1] for model in models}
maps, picked = {}, {}
for (model, protocol), run in study_runs.items():
    picked[model] = explain.example_picks(run, per_class=1)
    if len(picked[model]):
        maps[model] = explain.heatmaps(models[model], model_images[model].images[picked[model]["index"]])
        title = f"{labels[(model, protocol)]}: Grad-CAM"
        plots.heatmap_gallery(
            shown_images.images[picked[model]["index"]], maps[model], picked[model], title, synthetic=images.synthetic
        )

# %% tags=["remove-input"]
def shown_counts(picks, class_names):
    """How many right and wrong examples ``picks`` (example_picks) holds, and which classes had no wrong one."""
    right, wrong = int(picks["correct"].sum()), int((~picks["correct"]).sum())
    missing = [name for name in class_names if not ((picks["true"] == name) & ~picks["correct"]).any()]
    note = f" (no {', no '.join(missing)} image was wrong)" if missing else ""
    return f"{right} right, {wrong} wrong{note}"


glue("grids", ", ".join(f"{short[m]} {n}×{n}" for m, n in sides.items()))
glue("shown", "; ".join(f"{short[m]}: {shown_counts(picks, images.class_names)}" for m, picks in picked.items()))
glue.prose(
    """
{term}`Grad-CAM` {cite}`selvaraju2017` weights the last convolutional feature maps
by how much the class score changes with them, and paints the result over the
image: warm colours mark regions that pushed towards the predicted class. Each
gallery shows, for every class, the first right and the first wrong prediction in
the test set, where there is one: {shown}. Heatmaps are coarse (one
cell per position of the last feature map) and show correlation with the score,
not medical reasoning; look for mass on borders, corners, text markers and the
shoulders rather than on lung tissue. In this run the maps have these grids:
{grids}.
"""
)

# %% tags=["remove-input"]
def heat_verdict(model, model_maps):
    """One model's maps in words: its grid, and the share of heatmap mass inside the chest box."""
    size = model_maps.shape[1]
    inside = explain.occlude(np.full((1, size, size, 1), 255, np.uint8), "outside")[0, ..., 0] == 0
    flat = np.ptp(model_maps.reshape(len(model_maps), -1), axis=1) == 0
    grid = f"{short[model]} ({sides[model]}×{sides[model]} grid)"
    if flat.all():
        return grid + ": every map is flat, so it says nothing about where the model looks"
    mass = model_maps[~flat]
    share = float(((mass * inside).sum(axis=(1, 2)) / mass.sum(axis=(1, 2))).mean())
    side = "more" if share > inside.mean() else "less"
    extra = f" ({int(flat.sum())} of {len(flat)} maps flat, left out)" if flat.any() else ""
    return f"{grid}: {share:.0%} of the heat inside the box{extra}, {side} than a uniform map's {inside.mean():.0%}"


box_area = (explain.CHEST_BOX[1] - explain.CHEST_BOX[0]) * (explain.CHEST_BOX[3] - explain.CHEST_BOX[2])
glue("box_area", box_area)
glue("heat_verdicts", "; ".join(heat_verdict(m, mm) for m, mm in maps.items()) or "no maps were drawn")
glue.prose(
    """
A number instead of an impression: the share of each map's heat that falls inside
`explain.CHEST_BOX`, the central box that holds both lung fields and covers about
{box_area:.0%} of the image (so a map spread evenly would put that share
inside; at a model's input size the box's pixels give the exact share), averaged
over the maps above: {heat_verdicts}. A map whose grid is
one cell is flat by construction. Heat inside the box is not proof of reading the
lungs (the box also holds heart, spine and ribs), and a few maps are a small sample;
the occlusion test below asks the question directly.
"""
)

# %% [markdown]
# ## Hide the lungs

# %%
max_images = evidence.OCCLUSION_IMAGES  # the sample the full-scale evidence uses too
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

# %% [markdown]
# One test image of the sample in each variant, as Model 1 saw it (shown at 128 pixels
# or more; the scores come from the image at the model's size), with the model's
# probability for the image's true class and the class it chose:

# %% mystnb={"image": {"alt": "One test X-ray as is, with the chest box blacked out, and with everything but the chest box blacked out, each captioned with Model 1's probability for the true class."}}
variants = {
    "as is": lambda x: x,
    "chest hidden": lambda x: explain.occlude(x, "outside"),
    "only chest shown": lambda x: explain.occlude(x, "inside"),
}
key = next(iter(study_runs))
test = study_runs[key].predictions()["indices"]
index = test[explain.stratified_sample(model_images[key[0]].labels[test], max_images)][0]
true = images.labels[index]
versions = {}
for variant, change in variants.items():
    probability = predict_proba(models[key[0]], change(model_images[key[0]].images[[index]]), np.arange(1))[0]
    caption = f"{variant}\nP({images.class_names[true]}) {probability[true]:.2f}\ncalled {images.class_names[probability.argmax()]}"
    versions[caption] = change(shown_images.images[[index]])[0]
plots.occlusion_example(versions, f"{labels[key]}: one test image", synthetic=images.synthetic);

# %% [markdown]
# The same image, every model: the probability each gives its true class in each
# variant.

# %%
page.show_table(
    pd.DataFrame(
        {
            variant: {
                labels[k]: predict_proba(models[k[0]], change(model_images[k[0]].images[[index]]), np.arange(1))[0, true]
                for k in study_runs
            }
            for variant, change in variants.items()
        }
    ).rename_axis("model"),
    2,
)

# %% tags=["remove-input"]
from xray_utils.stats import accuracy_interval

chance = 1 / len(images.class_names)
above = [accuracy_interval(round(o * n), n)[0] > chance for o, n in zip(occlusion["only chest shown"], occlusion["images"])]
hidden_above = [accuracy_interval(round(h * n), n)[0] > chance for h, n in zip(occlusion["chest hidden"], occlusion["images"])]
drop_hidden = float((occlusion["as is"] - occlusion["chest hidden"]).mean())
drop_only = float((occlusion["as is"] - occlusion["only chest shown"]).mean())
for name, value in {
    "chance": chance, "only_low": occlusion["only chest shown"].min(), "only_high": occlusion["only chest shown"].max(),
    "asis_low": occlusion["as is"].min(), "asis_high": occlusion["as is"].max(), "only_above": sum(above),
    "hidden_above": sum(hidden_above), "drop_hidden": drop_hidden, "drop_only": drop_only, "n_models": len(occlusion),
}.items():
    glue(name, value)
glue(
    "occlusion_reading",
    "the frame outside the box matters to these models' scores at least as much as the chest does"
    if drop_only >= drop_hidden
    else "the chest matters more to these models' scores than the frame outside it",
)

# %% tags=["remove-input"]
glue.prose(
    """
Here the best accuracy with the chest hidden is {hidden_best:.2f}, and
{hidden_above} of the {n_models} models stay above chance with the chest
hidden (the lower end of the exact 95 % interval of their accuracy above
{chance:.2f}): the further above one in three, the more of the score comes
from outside the lungs.

The "only chest shown" column asks the opposite question. With everything but the
box blacked out the models score {only_low:.2f} to {only_high:.2f},
against {asis_low:.2f} to {asis_high:.2f} as is and {chance:.2f} by
chance; {only_above} of the {n_models} stay above chance. On average,
hiding the chest costs {drop_hidden:.2f} of accuracy and hiding everything but
the chest costs {drop_only:.2f}: on this reading, {occlusion_reading}.
"""
)

# %% [markdown]
# Read both columns with a caveat: an occluded image is itself out of distribution. A
# black box or a black frame is something the models never saw in training, so part
# of either drop can come from the black region alone, not from what it covered. That
# is why the two variants are read together: a model that reads the lungs should keep
# much of its accuracy with only the chest shown and fall towards chance with the
# chest hidden; a model that stays above chance with the chest hidden is using
# something outside the box, whatever the other column says.

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
    shown = recall.drop(columns=["protocol", "ci95_low", "ci95_high"]).round(3)
    shown.insert(3, "95 % interval", [f"{lo:.2f} to {hi:.2f}" for lo, hi in zip(recall.ci95_low, recall.ci95_high)])
    page.show_table(shown.set_index(["model", "class"]), 3)

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
glue("covid_bias", "")
if held_out[sizes[0]] is not None:
    covid = recall[recall["class"] == "COVID"].set_index("model")["recall"]
    called = dict(zip(shift["model"], shift["adult normals called COVID"]))
    biased = [m for m, share in called.items() if share >= 0.5 and m in covid]
    if biased:
        glue(
            "covid_bias",
            "Read the COVID row with that in mind: a model that called every adult X-ray COVID would find all "
            "the held-out COVID images. "
            + "; ".join(f"{short[m]} finds {covid[m]:.0%} of them and calls {called[m]:.0%} of the adult normals COVID"
                        for m in biased)
            + ". For " + ("that model" if len(biased) == 1 else "those models")
            + " the COVID recall reflects a bias towards \"COVID\" for adult X-rays, not detection of the disease.",
        )
chexnet = [m for (m, _), run in study_runs.items() if "CheXNet" in labels[(m, "study")]]
rsna = held_out[sizes[0]] is not None and data.provenance_table(held_out[sizes[0]])["source"].str.contains("RSNA").any()
if rsna and chexnet:
    overlap_words = (
        f"The RSNA adult normals are NIH ChestX-ray14 images, on which CheXNet was trained, and "
        f"{', '.join(short[m] for m in chexnet)} started from CheXNet weights: it may have seen these very images."
    )
elif rsna:
    overlap_words = (
        "The RSNA adult normals are NIH ChestX-ray14 images, on which CheXNet was trained; that would matter "
        "for a model started from CheXNet weights, and no run here was."
    )
glue("nih_overlap", overlap_words if rsna else "")

# %% tags=["remove-input"]
glue.prose(
    """
{held_out_verdict} Normal recall far below its test-set value, with the
misses going to COVID, is the age-and-hospital shortcut made visible; recall that
holds up is evidence against it. {covid_bias} {nih_overlap} (This part is this
build's, from the profile named above; the next section sets the full study's
beside it.)
"""
)

# %% [markdown]
# ## At full scale: the study's models
#
# Everything above comes from this build's models. The full study's models, trained
# at the study's settings on a GPU, are committed without their weights; the same
# three tests can still be run where they were trained, and their answers committed
# as numbers: held-out predictions, occlusion scores and Grad-CAM maps at each
# model's own grid. Each set of answers is checked against the run it belongs to
# before it is shown.

# %% tags=["remove-input"]
full = full_study.load_full_study()
committed = full.evidence() if full else {}  # study protocol, verified: evidence not its run's is refused
glue("full_evidence", narrative.full_evidence_sentence(full, committed, held_out[sizes[0]]))
glue.prose("{full_evidence}")

# %% tags=["remove-input"]
if committed:
    build_recall = recall if held_out[sizes[0]] is not None else None
    page.show_table(full_study.held_out_beside(committed, build_recall, params.profile), 3)

# %% tags=["remove-input"]
if committed:
    page.show_table(full_study.occlusion_beside(committed, occlusion, params.profile), 3)
    build_called = None if held_out[sizes[0]] is None else dict(zip(shift["model"], shift["adult normals called COVID"]))
    glue("full_shortcut", narrative.full_shortcut_sentence(committed, build_called))
    glue.prose("{full_shortcut}")

# %% mystnb={"image": {"alt": "The full study's Grad-CAM maps, committed as numbers, drawn over the reader's own copies of the test and held-out images they belong to."}} tags=["remove-input"]
drawn = evidence.map_galleries(committed, evidence.reader_copies(committed, params, images)) if committed else {}

# %% tags=["remove-input"]
if committed:
    glue("full_maps", narrative.full_maps_sentence(committed, drawn, images.synthetic))
    glue.prose("{full_maps}")

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

# %% tags=["remove-input"]
if params.profile != "full":
    glue("evidence_state", narrative.evidence_state_sentence(committed))
    glue.prose(
        """
The evidence in this chapter's first sections comes from {build_short}, not from
the study's models. {evidence_state}
"""
    )
else:
    glue.prose("""The evidence in this chapter comes from this build's own full-profile models ({build_models}).""")

# %% [markdown]
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
# solution: black out smaller boxes, e.g. (0.3, 0.7, 0.3, 0.7), with explain.occlude(..., "outside", box) and score Model 1 on each
labels_m1 = model_images["m1"].labels[test]
box_accuracy = {}
for margin in (0.15, 0.25, 0.35, 0.45):
    box = (margin, 1 - margin, margin, 1 - margin)
    hidden = explain.occlude(model_images["m1"].images[test], "outside", box)
    box_accuracy[margin] = (predict_proba(models["m1"], hidden, np.arange(len(hidden))).argmax(1) == labels_m1).mean()
    print(f"box {box}: accuracy with the box hidden {box_accuracy[margin]:.2f}")
as_is = (predict_proba(models["m1"], model_images["m1"].images[test], np.arange(len(test))).argmax(1) == labels_m1).mean()
print(f"as is: {as_is:.2f}")

# %% tags=["remove-input"]
margins = sorted(box_accuracy)
at_chance = [m for m in margins if accuracy_interval(round(box_accuracy[m] * len(test)), len(test))[0] <= chance]
glue("ex_as_is", as_is)
glue("ex_smallest", box_accuracy[margins[-1]])
glue("ex_small_area", (1 - 2 * margins[-1]) ** 2)
glue(
    "ex_patch",
    "A drop that large from so little hidden anatomy comes at least partly from the black patch itself, "
    "something the model never saw in training: a smaller box is a different out-of-distribution image, "
    "not simply less occlusion."
    if as_is - box_accuracy[margins[-1]] > 0.05
    else "Hiding it barely changes the score.",
)
glue(
    "ex_trend",
    "rises steadily as the box shrinks"
    if all(box_accuracy[a] <= box_accuracy[b] for a, b in zip(margins, margins[1:]))
    else "does not rise steadily as the box shrinks, though a smaller box hides less",
)
glue(
    "ex_chance",
    f"It is within reach of chance (its exact interval reaching {chance:.2f}) for the box{'es' if len(at_chance) > 1 else ''} "
    f"with margin {', '.join(f'{m:.2f}' for m in at_chance)}."
    if at_chance
    else "It never falls to chance, not even with the largest box: the frame outside the chest carries the class.",
)
glue.prose(
    """
Model 1 scores {ex_as_is:.2f} on these images as is. Its accuracy with the box
hidden {ex_trend}. {ex_chance} The smallest box covers
{ex_small_area:.0%} of the image, and with it hidden the model scores
{ex_smallest:.2f}. {ex_patch}
"""
)

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

# %% [markdown]
# Grad-CAM gives each feature map one weight (its average gradient), so a map that
# matters in one place is painted everywhere it is active; HiResCAM keeps the
# gradient's position. They agree where one region dominates, and disagree where a map
# is active in several places that matter differently. On a grid of one cell both are
# flat, and the correlation is undefined (`nan`).

# %% [markdown]
# **Exercise 3.** Which change to the training data would you make first to remove
# the age shortcut? Look at the training images' sources again.

# %% tags=["solution"]
sources = data.provenance_table(images)
# solution: which rows would you change, and with what images? (data.age_summary(sources) helps)
print(data.age_summary(sources))

# %% [markdown]
# Make age (and hospital) independent of the label: normals and pneumonia of adults,
# from the same hospitals and machines as the COVID images (for example the RSNA adult
# normals of the 2021 release beside adult COVID, or children with COVID beside the
# pediatric classes). Then test on a hospital that supplied no training images at
# all.
