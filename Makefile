# Two commands matter: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test bench bench-quick demo-assets clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## open tweetgen-tui on the demo corpus and checkpoint
	$(BIN)/tweetgen-tui

TEST_WORKERS ?= 2
test: $(STAMP)  ## the whole suite, slow tests included, on TEST_WORKERS processes (pytest-xdist)
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

bench: $(STAMP)  ## every benchmark section, bench/RESULTS.md (about an hour on 2 cores; --only SECTION for one)
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

demo-assets: $(STAMP)  ## regenerate assets/demo_tweets.txt and retrain assets/demo.pt
	$(BIN)/python assets/make_demo_corpus.py
	sh assets/train_demo.sh

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
