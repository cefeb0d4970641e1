"""Knowledge distillation from the unpruned teacher: the loss and the trainer that computes it.

KD term, per assistant token: ``T^2 * KL(p_T || q_T)`` (forward KL), ``p_T = softmax(teacher / T)``,
``q_T = softmax(student / T)``, so the gradient's scale does not change with T (Hinton et al.). With top-k the
teacher keeps its k largest logits, renormalised over those k (softmax over the k), and the sum runs over them
against the student's log-probabilities over the whole vocabulary. The training loss is
``alpha * KD + (1 - alpha) * CE``, CE the SFT cross-entropy (at T = 1), both averaged over the same tokens: the
assistant part, the mask SFT trains on.

TRL 1.16 offers ``trl.experimental.gkd.GKDTrainer`` (beta = 0 is this forward KL; lmbda > 0 samples on-policy)
and ``trl.DistillationTrainer`` (on-policy generation, chunked divergence). Neither mixes in the cross-entropy,
neither takes the teacher's top-k or cached logits, and GKDTrainer's loss ignores its own ``temperature`` (it
only sets sampling), so this is a small ``SFTTrainer`` subclass (:mod:`.trainer`'s) with its own
``compute_loss``: the data, the completion mask, LoRA and checkpoints stay TRL's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import PrunescaleError

OBJECTIVES = ("sft", "kd")


def kd_loss(student: torch.Tensor, values: torch.Tensor, indices: torch.Tensor | None,
            temperature: float = 1.0) -> torch.Tensor:
    """Mean over tokens of ``T^2 * KL(teacher || student)``. ``student``: (N, V) logits; ``values``: the
    teacher's (N, V) logits, or with ``indices`` (N, k) its top-k logits and where they sit in the vocabulary."""
    if student.shape[0] == 0:
        return student.sum() * 0.0   # no assistant token in the batch: a finite zero with a gradient path
    t = temperature
    log_q = F.log_softmax(student.float() / t, dim=-1)
    log_p = F.log_softmax(values.float() / t, dim=-1)    # over the whole vocabulary or renormalised over top-k
    if indices is not None:
        log_q = log_q.gather(-1, indices.long())
    kl = (log_p.exp() * (log_p - log_q)).sum(-1)
    return kl.mean() * t * t


def teacher_targets(logits: torch.Tensor, top_k: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What the loss needs of the teacher's (N, V) logits: all of them, or the top-k values and indices."""
    if top_k and top_k < logits.shape[-1]:
        values, indices = logits.topk(top_k, dim=-1)
        return values, indices
    return logits, None


def shifted(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, V) logits at the positions that predict an assistant token, and those N tokens."""
    target = labels[:, 1:]
    mask = target != -100
    return logits[:, :-1][mask], target[mask]


def mixed_loss(student_logits: torch.Tensor, labels: torch.Tensor, values: torch.Tensor,
               indices: torch.Tensor | None, *, alpha: float, temperature: float) -> tuple[torch.Tensor, dict]:
    """``alpha * KD + (1 - alpha) * CE`` on the assistant tokens; also the two terms, for the log."""
    s, target = shifted(student_logits, labels)
    ce = F.cross_entropy(s.float(), target) if len(target) else s.sum() * 0.0
    kd = kd_loss(s, values, indices, temperature)
    return alpha * kd + (1 - alpha) * ce, {"kd": float(kd.detach()), "ce": float(ce.detach())}


def check_kd(objective: str, alpha: float, temperature: float, top_k: int) -> None:
    if objective not in OBJECTIVES:
        raise PrunescaleError(f"--objective {objective!r} is not one of: {', '.join(OBJECTIVES)}")
    if not 0 <= alpha <= 1:
        raise PrunescaleError(f"--kd-alpha {alpha} must be in [0, 1] (loss = alpha * KD + (1 - alpha) * CE)")
    if not temperature > 0:
        raise PrunescaleError(f"--kd-temperature {temperature} must be positive")
    if top_k < 0:
        raise PrunescaleError(f"--kd-top-k {top_k} must be 0 (the whole vocabulary) or positive")


def kd_trainer_class():
    """The counting ``SFTTrainer`` with the mixed KD loss; ``teacher`` is a
    :class:`~.teacher_logits.TeacherLogits`."""
    from .trainer import counting_trainer_class

    class KDTrainer(counting_trainer_class()):
        def __init__(self, *args, teacher, alpha: float, temperature: float, **kwargs):
            super().__init__(*args, **kwargs)
            self.teacher, self.alpha, self.temperature = teacher, alpha, temperature
            # the loss is a per-batch mean: let the Trainer divide by the accumulation steps
            self.model_accepts_loss_kwargs = False
            self._terms: list[dict] = []

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False)
            values, indices = self.teacher.for_batch(inputs["input_ids"], inputs["attention_mask"], inputs["labels"])
            loss, terms = mixed_loss(outputs.logits, inputs["labels"], values.to(outputs.logits.device),
                                     None if indices is None else indices.to(outputs.logits.device),
                                     alpha=self.alpha, temperature=self.temperature)
            self._terms.append(terms)
            return (loss, outputs) if return_outputs else loss

        def log(self, logs: dict, start_time=None) -> None:
            if self._terms and "loss" in logs:
                for name in ("kd", "ce"):
                    logs[f"{name}_loss"] = sum(t[name] for t in self._terms) / len(self._terms)
                self._terms = []
            super().log(logs, start_time)

    return KDTrainer
