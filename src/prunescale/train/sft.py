"""Supervised fine-tuning with TRL's SFTTrainer (loss on the completion only), LoRA through PEFT or full.

Checkpoints go to ``<out>-checkpoints/`` so ``--resume`` can continue a killed run; the final model is written
to a temporary sibling and renamed into place (never half-written), LoRA merged into the base by default.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..contract.run_dir import model_record
from ..errors import PrunescaleError
from ..fileio import atomic_dir, library_versions
from ..options import option
from .kd import check_kd
from .trainer import collated, counting_trainer_class, planned_steps

MODES = ("lora", "full")


@dataclass
class Recipe:
    """Defaults follow the study (LoRA r=16, alpha=32, dropout 0.05; lr 1e-5 cosine, warmup 0.05, wd 1e-4,
    Adam betas (0.9, 0.95), 5 epochs)."""

    mode: str = option("lora", help="lora (default) or full")
    objective: str = option("sft", help="sft (cross-entropy on the traces, default) or kd (also match the "
                            "teacher's next-token distribution: forward KL, see --kd-alpha)")
    kd_alpha: float = option(0.5, help="kd: loss = alpha * KD + (1 - alpha) * CE on the assistant tokens "
                             "(default {default})")
    kd_temperature: float = option(1.0, help="kd: softmax temperature of both models; the KL is scaled by T^2 "
                                   "(default {default})")
    kd_top_k: int = option(0, help="kd: keep the teacher's k largest logits, renormalised over them (default 0: "
                           "the whole vocabulary)")
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    # every attention and MLP projection (PEFT leaves the LM head out)
    lora_targets: str = option("all-linear", help="PEFT target modules (default {default})")
    learning_rate: float = option(1e-5, alias="lr")
    lr_scheduler: str = option("cosine", alias="scheduler")
    warmup_ratio: float = option(0.05, alias="warmup", help="warmup as a fraction of the steps")
    weight_decay: float = 1e-4
    adam_beta1: float = 0.9               # one flag for both: --adam-betas B1,B2
    adam_beta2: float = 0.95
    epochs: float = 5.0
    max_steps: int = option(-1, help="stop after N optimizer steps (overrides --epochs)")
    train_tokens: int = option(0, help="train on this many assistant tokens (steps planned from the data's mean "
                               "length, stopping once reached; overrides --max-steps and --epochs; 0: off)")
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = option(4096, help="tokens per example (longer ones are cut)")
    gradient_checkpointing: bool = False
    save_steps: int = option(200, help="checkpoint every N steps into OUT-checkpoints/")
    seed: int = 0
    merge: bool = True                    # the flag is --no-merge
    extra: dict = field(default_factory=dict)

    def validate(self) -> None:
        check_kd(self.objective, self.kd_alpha, self.kd_temperature, self.kd_top_k)
        if self.mode not in MODES:
            raise PrunescaleError(f"--mode {self.mode!r} is not one of: {', '.join(MODES)}")
        if self.learning_rate <= 0 or self.batch_size < 1 or self.grad_accum < 1 or self.epochs <= 0:
            raise PrunescaleError("--lr, --batch-size, --grad-accum and --epochs must be positive")
        if self.mode == "lora" and (self.lora_r < 1 or self.lora_alpha <= 0 or not 0 <= self.lora_dropout < 1):
            raise PrunescaleError("--lora-r and --lora-alpha must be positive and --lora-dropout in [0, 1)")
        if self.train_tokens < 0:
            raise PrunescaleError(f"--train-tokens {self.train_tokens} must be positive or 0 (off)")
        if self.max_length < 1 or self.save_steps < 1 or self.max_steps == 0 or self.max_steps < -1:
            raise PrunescaleError("--max-length and --save-steps must be positive, --max-steps positive or -1 "
                                  "(no limit)")
        from transformers import SchedulerType

        schedulers = [s.value for s in SchedulerType]
        if self.lr_scheduler not in schedulers:
            raise PrunescaleError(f"--scheduler {self.lr_scheduler!r} is not one of: {', '.join(schedulers)}")
        if not 0 <= self.warmup_ratio < 1 or self.weight_decay < 0:
            raise PrunescaleError(f"--warmup must be in [0, 1) and --weight-decay >= 0 (got {self.warmup_ratio}, "
                                  f"{self.weight_decay})")


def checkpoint_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.parent / f"{out.name}-checkpoints"


def finetune(model_spec: str, rows: list[dict], recipe: Recipe, out: str | Path, *, data_spec: str = "",
             resume: bool = False, dtype: str | None = None, device: str | None = None,
             trust_remote_code: bool = False, teacher=None, kd_cache_mb: float = 0, noted: dict | None = None,
             log=print) -> dict:
    """Train on ``rows`` ({"prompt", "completion"}); write the model and its prunescale.json to ``out``.
    ``teacher``: the loaded teacher (``models.loading.LoadedModel``) that ``recipe.objective == "kd"`` distils;
    ``noted``: more for the record's ``finetune`` entry (where the data came from)."""
    try:
        import datasets
        from trl import SFTConfig
    except ImportError:
        raise PrunescaleError("fine-tuning needs TRL and PEFT: pip install 'prunescale[train]'") from None
    import torch

    from ..models.loading import load_model

    recipe.validate()
    loaded = load_model(model_spec, dtype=dtype, device=device, trust_remote_code=trust_remote_code)
    model, tok = loaded.model, loaded.tokenizer
    model.train()
    on_gpu = next(model.parameters()).device.type == "cuda"
    peft_config = None
    if recipe.mode == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(r=recipe.lora_r, lora_alpha=recipe.lora_alpha, lora_dropout=recipe.lora_dropout,
                                 target_modules=recipe.lora_targets, task_type="CAUSAL_LM")
    ckpt = checkpoint_dir(out)
    last = _last_checkpoint(ckpt) if resume else None
    if resume and last is None:
        log(f"no checkpoint in {ckpt}: starting from scratch")
    args = SFTConfig(
        output_dir=str(ckpt), learning_rate=recipe.learning_rate, lr_scheduler_type=recipe.lr_scheduler,
        warmup_steps=recipe.warmup_ratio, weight_decay=recipe.weight_decay, adam_beta1=recipe.adam_beta1,
        adam_beta2=recipe.adam_beta2, num_train_epochs=recipe.epochs, max_steps=recipe.max_steps,
        per_device_train_batch_size=recipe.batch_size, gradient_accumulation_steps=recipe.grad_accum,
        max_length=recipe.max_length, completion_only_loss=True, packing=False,
        activation_checkpointing=recipe.gradient_checkpointing, save_steps=recipe.save_steps, save_total_limit=2,
        # a short run logs at least once (its first and final loss)
        logging_steps=max(1, min(10, recipe.save_steps, recipe.max_steps if recipe.max_steps > 0 else 10)),
        seed=recipe.seed, data_seed=recipe.seed,
        bf16=on_gpu and torch.cuda.is_bf16_supported(), report_to="none", disable_tqdm=False,
        dataloader_pin_memory=on_gpu, **recipe.extra)
    dataset = datasets.Dataset.from_list(rows)
    kd_logits = None
    common = dict(model=model, args=args, train_dataset=dataset, processing_class=tok, peft_config=peft_config,
                  train_tokens=recipe.train_tokens)
    if recipe.objective == "kd":
        from .kd import kd_trainer_class
        from .teacher_logits import teacher_logits

        if teacher is None:
            raise PrunescaleError("--objective kd needs a teacher")
        teacher.model.to(model.device)
        trainer = kd_trainer_class()(**common, teacher=None, alpha=recipe.kd_alpha, temperature=recipe.kd_temperature)
    else:
        trainer = counting_trainer_class()(**common)
    if recipe.train_tokens or recipe.objective == "kd":
        batches = collated(trainer, recipe.batch_size)
    if recipe.train_tokens:
        # the schedule is planned for the budget; the budget callback ends the run exactly there
        trainer.args.max_steps = planned_steps(batches, recipe.train_tokens, recipe.batch_size * recipe.grad_accum)
        trainer.args.logging_steps = min(trainer.args.logging_steps, trainer.args.max_steps)
        log(f"--train-tokens {recipe.train_tokens}: {trainer.args.max_steps} steps planned")
    if recipe.objective == "kd":
        trainer.teacher = kd_logits = teacher_logits(teacher.model, teacher.tokenizer, batches,
                                                     top_k=recipe.kd_top_k, cache_mb=kd_cache_mb, log=log)
    start = time.time()
    result = trainer.train(resume_from_checkpoint=str(last) if last else None)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    trained = trainer.model
    if recipe.mode == "lora" and recipe.merge:
        trained = trained.merge_and_unload()
    record = {
        "finetune": {"mode": recipe.mode, "recipe": asdict(recipe), "data": data_spec, "examples": len(rows),
                     "global_step": trainer.state.global_step, "first_loss": losses[0] if losses else None,
                     "final_loss": losses[-1] if losses else None, "train_loss": result.training_loss,
                     "resumed_from": str(last) if last else None, "merged": recipe.mode == "full" or recipe.merge,
                     "wall_time_s": round(time.time() - start, 1), "loss_history": losses,
                     "objective": recipe.objective, "trained_tokens": trainer.trained_tokens,
                     "last_step_tokens": trainer.last_step_tokens},
        "parent_model": model_spec, "parent_path": loaded.path,
        "versions": library_versions("trl", "peft"),
    }
    record["finetune"].update(noted or {})
    if kd_logits is not None:
        ft = record["finetune"]
        ft["teacher"] = teacher.spec
        ft["teacher_logits"] = "cached" if kd_logits.cached else "on the fly"
        ft["kd_history"] = [h["kd_loss"] for h in trainer.state.log_history if "kd_loss" in h]
        ft["ce_history"] = [h["ce_loss"] for h in trainer.state.log_history if "ce_loss" in h]
    parent_record = model_record(loaded.path)
    if parent_record.is_file():
        parent = json.loads(parent_record.read_text())
        record["parent_record"] = parent
        for key in ("method", "removed_layers", "kept_layers", "merges", "score_name", "scores", "layers_before",
                    "layers_after", "source_model"):
            if key in parent:
                record[key] = parent[key]   # the pruning stays visible at the top level
    _save(trained, tok, record, Path(out))
    return record


def _save(model, tok, record: dict, out: Path) -> None:
    with atomic_dir(out) as tmp:
        model.eval()
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        model_record(tmp).write_text(json.dumps(record, indent=2, default=str) + "\n")


def _last_checkpoint(ckpt: Path) -> Path | None:
    if not ckpt.is_dir():
        return None
    # trainer_state.json is written last: a checkpoint killed while being saved is skipped
    steps = [(int(p.name.split("-")[-1]), p) for p in ckpt.glob("checkpoint-*")
             if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()]
    return max(steps)[1] if steps else None
