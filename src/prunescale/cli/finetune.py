"""``prunescale finetune``: recovery fine-tuning (LoRA or full) on reasoning traces."""

from __future__ import annotations

import argparse

from ..train.recover import FinetuneJob
from ..train.sft import Recipe
from .common import COMMANDS, NOT_CONFIG, add_config_args, add_field_args


@COMMANDS.register("finetune", order=90)
def register(sub) -> None:
    p = sub.add_parser("finetune", help="LoRA or full fine-tuning on reasoning traces, SFT or KD (recovery)",
                       description="Supervised fine-tuning (or distillation from the unpruned teacher, "
                       "--objective kd) with the loss on the assistant part (thinking and answer) only, with TRL "
                       "and PEFT. Defaults follow the study. Multi-GPU: `accelerate launch "
                       "-m prunescale finetune ...` (see docs/accelerate_fsdp.yaml).")
    both = (FinetuneJob, Recipe)
    add_field_args(p, both, ["model", "data", "mode", "out", "samples", "question_field", "thinking_field",
                             "answer_field"])
    k = p.add_argument_group("objective and teacher (KD: forward KL(teacher || student) at temperature T, times "
                             "T^2, on the assistant tokens)")
    add_field_args(k, both, ["objective", "teacher", "kd_alpha", "kd_temperature", "kd_top_k", "kd_cache_mb",
                             "teacher_budget", "teacher_temperature", "teacher_backend"])
    g = p.add_argument_group("recipe (defaults follow the study)")
    add_field_args(g, both, ["lora_r", "lora_alpha", "lora_dropout", "lora_targets", "learning_rate", "lr_scheduler",
                             "warmup_ratio", "weight_decay"])
    g.add_argument("--adam-betas", default=f"{Recipe.adam_beta1},{Recipe.adam_beta2}")   # two fields, one flag
    add_field_args(g, both, ["epochs", "max_steps", "train_tokens", "batch_size", "grad_accum", "max_length",
                             "gradient_checkpointing", "save_steps", "resume"])
    g.add_argument("--no-merge", action="store_true", help="keep the LoRA adapter separate (default: merge)")
    add_field_args(g, both, ["seed"])
    add_field_args(p, both, ["dtype", "device", "trust_remote_code", "overwrite"])
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train.recover import run_finetune

    options = {k: v for k, v in vars(args).items() if k not in NOT_CONFIG | {"model", "out", "no_merge"}}
    job = FinetuneJob.from_options(args.model, args.out, {**options, "merge": not args.no_merge})
    record = run_finetune(job)
    ft = record["finetune"]
    kd = f" (last kd {ft['kd_history'][-1]:.4f}, ce {ft['ce_history'][-1]:.4f})" if ft.get("kd_history") else ""
    loss = f"loss {ft['first_loss']:.4f} -> {ft['final_loss']:.4f}" if ft["loss_history"] else "no loss logged"
    print(f"{loss}{kd} in {ft['global_step']} steps ({ft['wall_time_s']:.0f}s); saved to {args.out}")
    return 0
