"""Recovery fine-tuning of pruned models: supervised traces (thinking + answer), LoRA or full, via TRL / PEFT."""
