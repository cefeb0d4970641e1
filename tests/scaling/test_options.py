"""Flags come from the dataclasses' fields: a default is written once, the parser's and the field's agree."""

from dataclasses import asdict

from prunescale.cli.eval import config_from_args
from prunescale.cli.main import build_parser
from prunescale.scaling.evaluate import EvalConfig
from prunescale.train.recover import FinetuneJob


def test_eval_flags_default_to_the_config_fields():
    args = build_parser()[0].parse_args(["eval", "--model", "m", "--task", "gsm8k", "--out", "o"])
    assert asdict(config_from_args(args)) == asdict(EvalConfig(model="m", tasks=["gsm8k"], out="o"))


def test_finetune_flags_default_to_the_job_and_recipe_fields():
    args = build_parser()[0].parse_args(["finetune", "--model", "m", "--data", "organism", "--out", "o"])
    options = {k: v for k, v in vars(args).items() if k not in {"func", "command", "config", "save_config",
                                                                 "model", "out", "no_merge"}}
    job = FinetuneJob.from_options("m", "o", {**options, "merge": not args.no_merge})
    assert asdict(job) == asdict(FinetuneJob(model="m", data="organism", out="o"))


def test_backend_options_are_a_cache_key():
    a = EvalConfig(model="m", tasks=[], out="o", base_urls=["http://x"]).backend_options()
    b = EvalConfig(model="m", tasks=[], out="o", base_urls=["http://x"], samples=4).backend_options()
    assert a == b and hash(a) == hash(b) and a.base_urls == ("http://x",)
    assert a != EvalConfig(model="m", tasks=[], out="o", dtype="float32").backend_options()
    assert EvalConfig(model="m", tasks=[], out="o").backend_options(model="/variant").model == "/variant"
