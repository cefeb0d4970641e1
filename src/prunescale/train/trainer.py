"""TRL's SFTTrainer counting the assistant tokens it trains on, and stopping at a token budget.

``--train-tokens N`` makes recipes comparable on equal training tokens whatever their traces' lengths: the run
is planned at ``ceil(N / (batch * grad_accum * mean assistant tokens per example))`` optimizer steps (so the
learning-rate schedule ends there) and stops after the first step at which N assistant tokens (the tokens the
loss is on) have been trained on, so it overshoots N by less than one step's tokens.
"""

from __future__ import annotations

import math


def collated(trainer, batch_size: int) -> list[dict]:
    """The training set as the trainer's own collator batches it (in order)."""
    data = trainer.train_dataset
    return [trainer.data_collator([data[j] for j in range(i, min(i + batch_size, len(data)))])
            for i in range(0, len(data), batch_size)]


def assistant_tokens(batch: dict) -> int:
    """Tokens the loss is on: those whose label is kept (each predicted from the one before it)."""
    return int((batch["labels"][:, 1:] != -100).sum())


def planned_steps(batches: list[dict], train_tokens: int, examples_per_step: int) -> int:
    """Optimizer steps that train on about ``train_tokens`` assistant tokens at the data's mean length."""
    examples = sum(len(b["labels"]) for b in batches)
    mean = sum(assistant_tokens(b) for b in batches) / max(examples, 1)
    return max(1, math.ceil(train_tokens / max(mean * examples_per_step, 1e-9)))


def counting_trainer_class():
    """``SFTTrainer`` that counts trained assistant tokens (``self.trained_tokens``; ``last_step_tokens``: the
    last optimizer step's) and stops at ``self.train_tokens`` (0: no budget)."""
    from transformers import TrainerCallback
    from trl import SFTTrainer

    class Budget(TrainerCallback):
        def __init__(self, trainer):
            self.trainer = trainer

        def on_step_end(self, args, state, control, **kwargs):
            t = self.trainer
            t.last_step_tokens, t.step_tokens = t.step_tokens, 0
            if t.train_tokens and t.trained_tokens >= t.train_tokens:
                control.should_training_stop = True
            return control

    class CountingTrainer(SFTTrainer):
        def __init__(self, *args, train_tokens: int = 0, **kwargs):
            super().__init__(*args, **kwargs)
            self.train_tokens, self.trained_tokens = train_tokens, 0
            self.step_tokens = self.last_step_tokens = 0   # this optimizer step's, the last finished one's
            self.add_callback(Budget(self))

        def training_step(self, model, inputs, num_items_in_batch=None):
            n = assistant_tokens(inputs)
            self.trained_tokens += n
            self.step_tokens += n
            return super().training_step(model, inputs, num_items_in_batch)

    return CountingTrainer
