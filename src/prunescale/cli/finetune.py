"""``prunescale finetune``: recovery fine-tuning (LoRA or full) on reasoning traces."""

from __future__ import annotations

import argparse

from .common import add_config_args


def register(sub) -> None:
    p = sub.add_parser("finetune", help="LoRA or full supervised fine-tuning on reasoning traces (recovery)",
                       description="Supervised fine-tuning with the loss on the assistant part (thinking and "
                       "answer) only, with TRL and PEFT. Defaults follow the study. Multi-GPU: `accelerate launch "
                       "-m prunescale finetune ...` (see docs/accelerate_fsdp.yaml).")
    p.add_argument("--model", required=True, help="model to fine-tune (directory, hub id or embedded:NAME)")
    p.add_argument("--data", required=True, help="organism, jsonl:PATH (or a path), hf:NAME[:split] "
                   "(s1K-style) or self:RUN_DIR (the model's own correct generations)")
    p.add_argument("--mode", default="lora", help="lora (default) or full")
    p.add_argument("--out", required=True, help="output model directory")
    p.add_argument("--samples", type=int, help="number of traces (organism: generated; others: the first N)")
    p.add_argument("--question-field")
    p.add_argument("--thinking-field")
    p.add_argument("--answer-field")
    g = p.add_argument_group("recipe (defaults follow the study)")
    g.add_argument("--lora-r", type=int, default=16)
    g.add_argument("--lora-alpha", type=int, default=32)
    g.add_argument("--lora-dropout", type=float, default=0.05)
    g.add_argument("--lora-targets", default="all-linear", help="PEFT target modules (default all-linear)")
    g.add_argument("--lr", type=float, default=1e-5)
    g.add_argument("--scheduler", default="cosine")
    g.add_argument("--warmup", type=float, default=0.05, help="warmup as a fraction of the steps")
    g.add_argument("--weight-decay", type=float, default=1e-4)
    g.add_argument("--adam-betas", default="0.9,0.95")
    g.add_argument("--epochs", type=float, default=5.0)
    g.add_argument("--max-steps", type=int, default=-1, help="stop after N optimizer steps (overrides --epochs)")
    g.add_argument("--batch-size", type=int, default=8)
    g.add_argument("--grad-accum", type=int, default=1)
    g.add_argument("--max-length", type=int, default=4096, help="tokens per example (longer ones are cut)")
    g.add_argument("--gradient-checkpointing", action="store_true")
    g.add_argument("--save-steps", type=int, default=200, help="checkpoint every N steps into OUT-checkpoints/")
    g.add_argument("--resume", action="store_true", help="continue from the last checkpoint in OUT-checkpoints/")
    g.add_argument("--no-merge", action="store_true", help="keep the LoRA adapter separate (default: merge)")
    g.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype")
    p.add_argument("--device")
    p.add_argument("--trust-remote-code", action="store_true")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train.recover import FinetuneJob, parse_betas, run_finetune
    from ..train.sft import Recipe

    b1, b2 = parse_betas(args.adam_betas)
    recipe = Recipe(mode=args.mode, lora_r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                    lora_targets=args.lora_targets, learning_rate=args.lr, lr_scheduler=args.scheduler,
                    warmup_ratio=args.warmup, weight_decay=args.weight_decay, adam_beta1=b1, adam_beta2=b2,
                    epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
                    grad_accum=args.grad_accum, max_length=args.max_length,
                    gradient_checkpointing=args.gradient_checkpointing, save_steps=args.save_steps, seed=args.seed,
                    merge=not args.no_merge)
    job = FinetuneJob(model=args.model, data=args.data, out=args.out, recipe=recipe, samples=args.samples,
                      question_field=args.question_field, thinking_field=args.thinking_field,
                      answer_field=args.answer_field, resume=args.resume, overwrite=args.overwrite, dtype=args.dtype,
                      device=args.device, trust_remote_code=args.trust_remote_code)
    record = run_finetune(job)
    ft = record["finetune"]
    print(f"loss {ft['first_loss']:.4f} -> {ft['final_loss']:.4f} in {ft['global_step']} steps "
          f"({ft['wall_time_s']:.0f}s); saved to {args.out}")
    return 0
