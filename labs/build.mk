# labs/build.mk - builds one lab's programs and unit tests.
#
# The top-level Makefile and the grader call it like this:
#   make -f labs/build.mk LAB_DIR=labs/01-tcp-echo SRC_DIR=labs/01-tcp-echo \
#        OUT=build/lab01
# SRC_DIR is the lab folder (your code) or its solution/ folder (the
# reference). Headers always come from LAB_DIR: they are provided, not
# written by you. Each lab's lab.mk says what to build from what; a lab
# that lists COMMON_SRCS also links those files of labs/common/.

ifndef LAB_DIR
$(error LAB_DIR is not set; run "make labNN" from the top folder instead)
endif

# This file's own folder (labs/), read before lab.mk is included: after the
# include, the last makefile read is the lab's lab.mk.
LABS_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

include $(LAB_DIR)/lab.mk

COMMON_DIR := $(LABS_DIR)/common
SRC_DIR ?= $(LAB_DIR)

# A lab may reuse an earlier lab's reference once that lab is due
# (BORROWED_FROM in lab.mk; NAME_BORROWED_SRCS per program or test). The
# course's tree builds them from that lab's solution/ with its headers; a
# handout or an autograder package carries both in the lab's borrowed/.
ifdef BORROWED_FROM
ifneq ($(wildcard $(LAB_DIR)/borrowed),)
BORROWED_SRC_DIR := $(LAB_DIR)/borrowed
BORROWED_INC_DIR := $(LAB_DIR)/borrowed
else
BORROWED_SRC_DIR := $(LABS_DIR)/$(BORROWED_FROM)/solution
BORROWED_INC_DIR := $(LABS_DIR)/$(BORROWED_FROM)
endif
ifeq ($(wildcard $(BORROWED_SRC_DIR)),)
$(error $(LAB_DIR) needs lab $(BORROWED_FROM)'s reference: $(LAB_DIR)/borrowed/ is missing)
endif
endif
OUT ?= build/$(notdir $(LAB_DIR))

WARNINGS := -Wall -Wextra -Wpedantic
CSTD := -std=c11 -D_DEFAULT_SOURCE
OPT ?= -O2
SANITIZERS := -fsanitize=address,undefined
TSAN_FLAGS := -fsanitize=thread
ALL_CFLAGS := $(CSTD) $(OPT) -g $(WARNINGS) $(if $(filter 1,$(WERROR)),-Werror) \
	$(if $(filter 1,$(SANITIZE)),$(SANITIZERS) -fno-omit-frame-pointer) \
	$(if $(filter 1,$(TSAN)),$(TSAN_FLAGS) -fno-omit-frame-pointer) \
	-I$(SRC_DIR) -I$(LAB_DIR) $(if $(BORROWED_FROM),-I$(BORROWED_INC_DIR)) \
	$(if $(COMMON_SRCS),-I$(COMMON_DIR)) $(CFLAGS)
ALL_LDFLAGS := $(if $(filter 1,$(SANITIZE)),$(SANITIZERS)) \
	$(if $(filter 1,$(TSAN)),$(TSAN_FLAGS)) $(LDFLAGS)

COMMON_FILES := $(addprefix $(COMMON_DIR)/,$(COMMON_SRCS))
HEADERS := $(wildcard $(LAB_DIR)/*.h) $(if $(COMMON_SRCS),$(wildcard $(COMMON_DIR)/*.h)) \
	$(if $(BORROWED_FROM),$(wildcard $(BORROWED_INC_DIR)/*.h))
FLAGS_STAMP := $(OUT)/.build-flags

# Quiet by default; "make V=1" shows the full compiler commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

# A program's sources: NAME_SRCS from the folder being built (your code or
# the reference), NAME_PROVIDED_SRCS from the lab folder whichever is built
# (complete files given to students), NAME_BORROWED_SRCS from an earlier
# lab's reference, and the common library.
src = $(addprefix $(SRC_DIR)/,$($(1)_SRCS)) \
	$(addprefix $(LAB_DIR)/,$($(1)_PROVIDED_SRCS)) \
	$(addprefix $(BORROWED_SRC_DIR)/,$($(1)_BORROWED_SRCS)) $(COMMON_FILES)

.PHONY: all programs unit-tests asan tsan
all: programs unit-tests
programs: $(addprefix $(OUT)/,$(PROGRAMS))
unit-tests: $(addprefix $(OUT)/tests/,$(UNIT_TESTS))

# The same programs built with AddressSanitizer and UBSan, for the tests
# that run them so (make grade SANITIZE=1, and one graded test per lab).
asan:
	@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) LAB_DIR=$(LAB_DIR) \
		SRC_DIR=$(SRC_DIR) OUT=$(OUT)/asan SANITIZE=1 OPT=-O1 programs

# The same programs built with ThreadSanitizer, for the tests of threaded
# servers (lab 06): it reports two threads touching the same memory
# without a lock between them. It cannot be combined with ASan.
tsan:
	@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) LAB_DIR=$(LAB_DIR) \
		SRC_DIR=$(SRC_DIR) OUT=$(OUT)/tsan SANITIZE=0 TSAN=1 OPT=-O1 programs

# Rebuild everything when the compiler or its flags change (CC=clang,
# WERROR=1): the stamp file is rewritten, and so newer, only then.
FLAGS_TEXT := $(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS)
$(shell mkdir -p $(OUT) && (echo '$(FLAGS_TEXT)' | cmp -s - $(FLAGS_STAMP) || \
	echo '$(FLAGS_TEXT)' > $(FLAGS_STAMP)))

# Each recipe first removes its target: a program that no longer compiles
# leaves nothing behind to be graded in its place.
define program_rule
$(OUT)/$(1): $(call src,$(1)) $(HEADERS) $(FLAGS_STAMP)
	@echo "  CC      $$@"
	$(Q)rm -f $$@
	$(Q)$(CC) $(ALL_CFLAGS) -o $$@ $(call src,$(1)) $(ALL_LDFLAGS) $($(1)_LDLIBS)
endef

# A unit test links your code into one process with cmocka. Each of your
# files goes into an object of its own (OUT/tests/NAME.objects/), and so
# does the test itself (NAME.objects/harness.o), so that the grader can
# read them before the test runs (grader/objects.py): an object that would
# run code before main() or replace a function of cmocka's is refused.
unit_objects = $(addprefix $(OUT)/tests/$(1).objects/,$($(1)_SRCS:.c=.o))
unit_harness = $(OUT)/tests/$(1).objects/harness.o
# The tests' shared cmocka glue: groups of table-driven cases.
UNIT_CASES_H := $(LABS_DIR)/unit_cases.h
unit_course_src = $(addprefix $(LAB_DIR)/,$($(1)_PROVIDED_SRCS)) \
	$(addprefix $(BORROWED_SRC_DIR)/,$($(1)_BORROWED_SRCS)) $(COMMON_FILES)

define unit_test_rule
$(OUT)/tests/$(1).objects/%.o: $(SRC_DIR)/%.c $(HEADERS) $(FLAGS_STAMP)
	@mkdir -p $$(@D)
	@echo "  CC      $$@"
	$(Q)rm -f $$@
	$(Q)$(CC) $(ALL_CFLAGS) -DUNIT_TESTING -c -o $$@ $$<

$(call unit_harness,$(1)): $(LAB_DIR)/tests/$(1).c $(UNIT_CASES_H) $(HEADERS) $(FLAGS_STAMP)
	@mkdir -p $$(@D)
	$(Q)rm -f $$@
	$(Q)$(CC) $(ALL_CFLAGS) -I$(LABS_DIR) -DUNIT_TESTING -c -o $$@ $(LAB_DIR)/tests/$(1).c

$(OUT)/tests/$(1): $(call unit_harness,$(1)) $(call unit_objects,$(1)) \
		$(call unit_course_src,$(1)) $(HEADERS) $(FLAGS_STAMP)
	@mkdir -p $$(@D)
	@echo "  CC      $$@"
	$(Q)rm -f $$@
	$(Q)$(CC) $(ALL_CFLAGS) -DUNIT_TESTING -o $$@ $(call unit_harness,$(1)) \
		$(call unit_objects,$(1)) $(call unit_course_src,$(1)) $(ALL_LDFLAGS) \
		$($(1)_LDFLAGS) -lcmocka
endef

$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(p))))
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_test_rule,$(t))))
