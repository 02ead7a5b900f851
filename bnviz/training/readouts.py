"""What a page reads from a run's models, safely beside the training thread: the weights, the
test-time demonstrations (eval vs train mode, population statistics) and one batch worked out by
hand. Each reading holds the job's model lock, so it sees the weights between two steps."""

from __future__ import annotations

import dataclasses
import io

from bnviz.batchnorm.evaluation import test_time_accuracy
from bnviz.batchnorm.models import MODELS, bn_layers


class Readouts:
    """Readings of one :class:`bnviz.training.job.Job`."""

    def __init__(self, job):
        self.job = job

    def test_time_now(self) -> dict:
        """The eval-vs-train-mode demonstration on the current BN model (any state)."""
        with self.job.model_lock:
            x, y = self.job.data_on(next(self.job.models[1].parameters()).device, train=False)
            return test_time_accuracy(self.job.models[1], x, y, self.job.config.test_time_batches)

    def population(self, progress=None) -> dict:
        """The BN model's test-time statistics three ways, with its current weights: the
        population statistics over the run's training images (:mod:`bnviz.batchnorm.population`), the
        running estimates, and the running estimates other BN momenta would have given. Per BN
        layer: the population statistics and each estimate's gap to them; and the test accuracy
        with the running, the population and the unbiased population statistics. Blocks
        training while it runs (a few seconds on the whole set): meant for a paused or ended run."""
        from bnviz.batchnorm import population
        from bnviz.training.lockstep import ALT_MOMENTA

        with self.job.model_lock:
            model = self.job.models[1]
            dev = next(model.parameters()).device
            x_train, _ = self.job.data_on(dev, train=True)
            x_test, y_test = self.job.data_on(dev, train=False)
            pop = population.population_stats(model, x_train, progress=progress)
            modules = bn_layers(model)
            unbiased = self.job.config.bn_impl == "torch"
            layers = {}
            for layer, stats in pop.items():
                m = modules[layer]
                gaps = {"running": population.gap(m.running_mean.cpu(), m.running_var.cpu(), stats, unbiased=unbiased)}
                for momentum, (r_mean, r_var) in self.job.trainer.alt.get(layer, {}).items():
                    gaps[momentum] = population.gap(r_mean.cpu(), r_var.cpu(), stats, unbiased=unbiased)
                layers[layer] = {"population": stats, "gap": gaps}
            running = {layer: (m.running_mean, m.running_var) for layer, m in modules.items()}
            biased = {layer: (s["mean"], s["var"]) for layer, s in pop.items()}
            unbiased_stats = {layer: (s["mean"], s["var_unbiased"]) for layer, s in pop.items()}
            acc = {"running": population.accuracy_with(model, x_test, y_test, running),
                   "population": population.accuracy_with(model, x_test, y_test, biased),
                   "population_unbiased": population.accuracy_with(model, x_test, y_test, unbiased_stats)}
            return {"step": self.job.steps_done, "n_train": len(x_train), "n_test": len(y_test), "layers": layers,
                    "accuracy": acc, "momentum": self.job.config.bn_momentum,
                    "alt_momenta": ALT_MOMENTA if self.job.trainer.alt else ()}

    def by_hand(self, layer: str, channel: int) -> dict:
        """One batch through one BN layer, worked out (:func:`bnviz.batchnorm.by_hand.one_batch`): the
        batch the next step will train on (before the first step: the run's first batch), with
        the current weights. Changes nothing."""
        from bnviz.batchnorm.by_hand import one_batch
        from bnviz.batchnorm.evaluation import as_input

        with self.job.model_lock:
            model = self.job.models[1]
            dev = next(model.parameters()).device
            x_train, _ = self.job.data_on(dev, train=True)
            idx = self.job.next_batch
            if idx is None and self.job.last_batch is None:  # not started: what the first step will draw
                idx = self.job.trainer.peek_order(self.job.n_train)[:self.job.config.batch_size].to(dev)
            xb = as_input(x_train[idx]) if idx is not None else self.job.last_batch[0]
            return {**one_batch(model, xb, layer, channel, unbiased_running=self.job.config.bn_impl == "torch"),
                    "step": self.job.steps_done}

    def weights(self) -> tuple[int, list[dict]]:
        """(step, both models' ``state_dict``s as CPU copies), read consistently between steps."""
        with self.job.model_lock:
            return self.job.steps_done, [{k: v.detach().cpu().clone() for k, v in m.state_dict().items()}
                                         for m in self.job.models]

    def export_weights(self) -> bytes:
        """Both models' ``state_dict``s (CPU tensors) and the config, as ``torch.save`` bytes."""
        import torch

        step, states = self.weights()
        payload = {"config": dataclasses.asdict(self.job.config), "step": step, **dict(zip(MODELS, states))}
        buf = io.BytesIO()
        torch.save(payload, buf)
        return buf.getvalue()


