"""nbval settings: compare only what is deterministic.

Cells tagged ``nbval-check-output`` (counts, shapes, parameter counts, split
sizes) are compared; with ``--nbval-lax`` every other cell just has to run
without error. Standard error (TensorFlow and Keras log lines) is never compared.
"""


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
