# The two commands a newcomer types: `make demo` and `make test`.
# Both create .venv (once), install the package with the torch wheels that lie on this
# machine's disk, and run.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH  := torch==2.14.1 torchvision==0.29.1

.PHONY: demo test test-fast test-exports lab install fidelity figures notebooks bench survey accuracy clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[test]' $(TORCH)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/roofline analyze mnv4_conv_medium --hw pixel8_cpu

test: $(STAMP)
	$(BIN)/python -m pytest -q

# the inner loop: everything but the tests marked slow (real models, exports, subprocesses)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# the issue's acceptance in full: every zoo model exported to int8 .tflite and .onnx, its
# deployed MACs within 2% of the torch trace's (tens of minutes on a cold export cache)
test-exports: $(STAMP)
	ROOFLINE_TEST_ALL_EXPORTS=1 $(BIN)/python -m pytest -q tests/test_deployed_graph.py -k zoo

# the notebooks in JupyterLab, from the venv (JupyterLab is installed on first use)
lab: $(STAMP)
	$(BIN)/python -c "import jupyterlab" 2>/dev/null || $(BIN)/python -m pip install --quiet '.[lab]'
	$(BIN)/jupyter lab notebooks/

# docs/fidelity.md: our params and MACs of every zoo model beside the published ones and
# fvcore's, with the cause of every gap over 5% (about a minute; tests check it is current).
fidelity: $(STAMP)
	$(BIN)/roofline zoo fidelity --output docs/fidelity.md

# The README gallery: the paper's Figs. 2 and 3 for MobileNetV4 and its MobileNet baselines,
# the ridge-point sweep, one roofline chart and one devices chart.
FIGURES := docs/figures

figures: $(STAMP)
	mkdir -p $(FIGURES)
	$(BIN)/roofline plot pareto -o $(FIGURES)/fig2_pareto.png
	$(BIN)/roofline plot opcost -o $(FIGURES)/fig3_opcost.png
	$(BIN)/roofline plot ridge -o $(FIGURES)/ridge.png
	$(BIN)/roofline plot roofline mnv4_conv_medium --hw pixel6_cpu:fitted -o $(FIGURES)/roofline_mnv4_conv_medium.png
	$(BIN)/roofline plot devices mnv4_conv_medium -o $(FIGURES)/devices_mnv4_conv_medium.png

# Execute the three notebooks in place, to read them with their tables and figures (under a
# minute each). git keeps them without outputs, which the tests check: `git checkout notebooks/`
# restores the stripped copies.
notebooks: $(STAMP)
	$(BIN)/jupyter-execute --inplace --kernel_name=python3 --timeout=600 notebooks/*.ipynb

# docs/survey.md and docs/survey.csv: 300 timm models traced by `roofline survey` and
# checked against torch's FlopCounterMode (3-4 minutes with 2 workers; rows are
# journaled, so a second run only re-renders: add --fresh to run them again).
survey: $(STAMP)
	$(BIN)/python benchmarks/survey.py --workers 2

# docs/accuracy.md's numbers: bench -> measure the zoo -> fit (leave-one-out) -> validate on
# this machine (about 5 minutes); rewrites hardware_profiles/ci_x86_2core.yaml and the figure.
accuracy: $(STAMP)
	$(BIN)/python benchmarks/accuracy_local.py

clean:
	rm -rf $(VENV) build *.egg-info
