# The course's commands. Run "make help" to see them.
#
#   make lab01                build your lab 01 code into build/lab01/
#   make lab01 SOLUTION=1     build the reference instead
#   make grade                grade the lab you built last
#   make grade LAB=01 T=echo  grade lab 01, only tests whose name has "echo"
#   make test                 the maintainers' self-check (CI runs this)
#   make lint                 its style and static checks alone
#   make docs                 the notes and handouts as a site in build/site/

# Every lab folder is labs/NN-name; a lab is ready once it has a lab.mk.
LAB_DIRS := $(sort $(wildcard labs/[0-9][0-9]-*))
LAB_NUMBERS := $(foreach d,$(LAB_DIRS),$(firstword $(subst -, ,$(notdir $(d)))))
READY_LAB_DIRS := $(patsubst %/lab.mk,%,$(wildcard labs/[0-9][0-9]-*/lab.mk))

# SOLUTION=1 selects the reference code; anything else means your code.
use_solution := $(if $(filter 1 yes true,$(SOLUTION)),1,0)
# Only pass --solution to the grader when you set SOLUTION yourself, so
# that a plain "make grade" grades whatever "make labNN" last built.
solution_arg = $(if $(filter command line environment,$(origin SOLUTION)),--solution $(use_solution))

# The grader needs a Python that can import pytest (Debian's python3-pytest
# installs for /usr/bin/python3, which may not be the python3 on PATH).
GRADER_PYTHON := grader/python
DEPS := grader/deps

.PHONY: help deps check-deps check-test-deps check-docs-deps grade test lint docs figures handout gradescope batch bench clean $(addprefix lab,$(LAB_NUMBERS))

help:
	@echo "Labs: $(notdir $(LAB_DIRS))"
	@echo
	@echo "  make labNN [SOLUTION=1]    build lab NN (your code, or the reference)"
	@echo "  make grade                 grade the lab built last"
	@echo "  make grade LAB=NN|all      grade lab NN, or every lab"
	@echo "      STEP=N                 only the handout's steps 1 to N"
	@echo "      T=NAME                 only tests whose name contains NAME"
	@echo "      VERBOSE=1              a line per test, and every failure in full"
	@echo "      SEED=N                 fix the seed of the random tests"
	@echo "      VALGRIND=1             run every server test under valgrind"
	@echo "      SANITIZE=1             run every program built with ASan and UBSan"
	@echo "      SOLUTION=1             grade the reference instead of your code"
	@echo "  make deps                  install the Debian packages the labs need"
	@echo "  make test                  maintainers' self-check of every lab"
	@echo "  make lint                  its style and static checks (CONTRIBUTING.md)"
	@echo "  make docs                  the notes and handouts as a site: build/site/index.html"
	@echo "  make handout OUT=DIR [WEEK=N|LAB=NN]   publish a student repository"
	@echo "  make gradescope LAB=NN     build dist/labNN-autograder.zip"
	@echo "  make batch LAB=NN SUBS=DIR grade a folder of submissions into a CSV"
	@echo "  make bench LAB=NN          measure a lab's servers (labs 05, 06) with wrk"
	@echo "      BENCH_SECONDS=N        seconds per measurement (lab 06: about 4 min in all)"
	@echo "  make clean                 remove build/"

# lab01, lab02, ...: build one lab and remember it as the current lab.
define lab_target
lab$(1):
	@if [ ! -f $(2)/lab.mk ]; then \
		echo "Lab $(1) ($(2)) is not available yet; $(2)/README.md says what is coming." >&2; \
		exit 2; \
	fi
	@$$(MAKE) --no-print-directory -f labs/build.mk LAB_DIR=$(2) \
		SRC_DIR=$(2)$(if $(filter 1,$(use_solution)),/solution) \
		OUT=build/lab$(1)$(if $(filter 1,$(use_solution)),/solution)
	@mkdir -p build
	@printf 'LAB=%s\nSOLUTION=%s\n' $(1) $(use_solution) > build/current
	@echo "Built lab $(1) ($(if $(filter 1,$(use_solution)),reference solution,your code)). Next: make grade"
endef
$(foreach n,$(LAB_NUMBERS),$(eval $(call lab_target,$(n),$(filter labs/$(n)-%,$(LAB_DIRS)))))

grade: check-deps
	@$(GRADER_PYTHON) -m grader grade \
		$(if $(LAB),--lab $(LAB)) $(solution_arg) \
		$(if $(T),-k '$(T)') $(if $(SEED),--seed $(SEED)) $(if $(STEP),--step $(STEP)) \
		$(if $(filter 1,$(VERBOSE)),--verbose) \
		$(if $(filter 1,$(VALGRIND)),--valgrind) $(if $(filter 1,$(SANITIZE)),--sanitize)

# The self-check: the style and static checks first (make lint), then
# every test of grader/tests.
test: check-test-deps
	@if [ ! -d grader/tests ]; then \
		echo "make test is the course maintainers' self-check and is not part of this handout; use make grade."; \
		exit 2; \
	fi
	@grader/lint
	@$(GRADER_PYTHON) -m pytest -p no:cacheprovider -q -n 2 grader/tests

# clang-format, cppcheck and clang-tidy on the labs' C, each C file
# compiled without the build's -D_DEFAULT_SOURCE, pyflakes on the Python
# (grader/lint says how; CONTRIBUTING.md why).
lint: check-test-deps
	@if [ ! -d grader/tests ]; then \
		echo "make lint is the course maintainers' check and is not part of this handout; use make grade."; \
		exit 2; \
	fi
	@grader/lint

# Instructors: write or update a student repository (see docs/instructors.md).
handout:
	@if [ -z "$(OUT)" ]; then echo "usage: make handout OUT=DIR [WEEK=N | LAB=NN]" >&2; exit 2; fi
	@$(GRADER_PYTHON) -m grader handout --out "$(OUT)" \
		$(if $(WEEK),--week $(WEEK)) $(if $(filter-out all,$(LAB)),--lab $(LAB))

# The notes as a static site. The figures in docs/images/ are drawn from
# their sources in docs/figures/ (Graphviz .dot files, and .seq files for
# seqdiag.py); both are committed, so that the Markdown shows them on
# GitHub without a build.
DOCS_PYTHON := $(firstword $(wildcard /usr/bin/python3) python3)
FIGURES := $(patsubst docs/figures/%.dot,docs/images/%.svg,$(wildcard docs/figures/*.dot)) \
	$(patsubst docs/figures/%.seq,docs/images/%.svg,$(wildcard docs/figures/*.seq))

docs: check-docs-deps figures
	@$(DOCS_PYTHON) docs/site/build.py --out build/site --work build/site-src

figures: $(FIGURES)

docs/images/%.svg: docs/figures/%.dot
	@echo "  DOT     $@"
	@dot -Tsvg -o $@ $<

docs/images/%.svg: docs/figures/%.seq docs/figures/seqdiag.py
	@echo "  SEQDIAG $@"
	@$(DOCS_PYTHON) docs/figures/seqdiag.py $< $@

deps:
	@$(DEPS) install

check-deps:
	@$(DEPS) check grade

check-test-deps:
	@$(DEPS) check test

check-docs-deps:
	@$(DEPS) check docs

# Instructors: dist/labNN-autograder.zip for Gradescope (docs/instructors.md).
gradescope:
	@if [ -z "$(LAB)" ] || [ "$(LAB)" = all ]; then echo "usage: make gradescope LAB=NN" >&2; exit 2; fi
	@$(GRADER_PYTHON) -m grader gradescope --lab $(LAB)

# Instructors: grade a folder of submissions (one folder per student).
batch:
	@if [ -z "$(LAB)" ] || [ -z "$(SUBS)" ]; then echo "usage: make batch LAB=NN SUBS=DIR [JOBS=N] [OUT=DIR] [UNSAFE=1]" >&2; exit 2; fi
	@$(GRADER_PYTHON) -m grader batch --lab $(LAB) --subs "$(SUBS)" \
		$(if $(JOBS),--jobs $(JOBS)) $(if $(OUT),--out "$(OUT)") \
		$(if $(filter 1,$(UNSAFE)),--unsafe)

# A lab's benchmark, where it has one: labs/NN-name/bench/bench.sh. Not
# part of make test: timing depends on the machine.
bench:
	@lab='$(filter labs/$(LAB)-%,$(LAB_DIRS))'; \
	if [ -z "$(LAB)" ] || [ -z "$$lab" ]; then \
		echo "usage: make bench LAB=NN [SOLUTION=0|1] [BENCH_SECONDS=N]" >&2; exit 2; \
	fi; \
	if [ ! -x "$$lab/bench/bench.sh" ]; then \
		echo "Lab $(LAB) has no benchmark (no $$lab/bench/bench.sh)." >&2; exit 2; \
	fi; \
	$(if $(solution_arg),SOLUTION=$(use_solution)) "$$lab/bench/bench.sh" $(BENCH_SECONDS)

clean:
	rm -rf build dist
