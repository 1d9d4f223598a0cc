"""The paper's three networks, one folder each (model, data, experiment, evaluation, results and a
README): `hsn` (hybrid sensing), `hmn` (hybrid modulation), `hrn` (hybrid reasoning); and
`snn_digits`, the smallest experiment, a template for new ones.

The two tables below are the only place the rest of the package learns about them: the training
command's experiments and the benchmark suite's model cases, each as "module:attribute", imported on
first use so that one network's import cost or failure never reaches another. The kernel library
(hnn_fast.ops, hnn_fast.nn, hnn_fast.reference, hnn_fast.data) never imports this package.
"""

# `hnn-fast train NAME`: NAME -> the Experiment subclass.
EXPERIMENTS = {
    "snn-digits": "hnn_fast.networks.snn_digits.experiment:SNNDigits",
    "hsn": "hnn_fast.networks.hsn.experiment:HSNExperiment",
    "hmn": "hnn_fast.networks.hmn.experiment:HMN",
    "hrn": "hnn_fast.networks.hrn.experiment:HRNCollision",
}

# `hnn-fast bench --only models`: NAME -> a factory (device, dtype, preset) -> hnn_fast.bench.ModelCase.
BENCHMARK_MODELS = {
    "hsn": "hnn_fast.networks.hsn.bench:event_pathway",
    "hmn": "hnn_fast.networks.hmn.bench:spiking_branch",
    "hrn-reasoner": "hnn_fast.networks.hrn.bench:reasoner",
    "hrn-collision-hu": "hnn_fast.networks.hrn.bench:collision_hu",
}


def load(entry: str):
    """The object an entry of the tables names."""
    import importlib

    module, _, attribute = entry.partition(":")
    return getattr(importlib.import_module(module), attribute)
