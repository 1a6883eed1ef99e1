# mq: a transactional message broker inside PostgreSQL (PGXS build)
#
# The two commands a user needs are `make demo` and `make test`; both run
# scripts in test/scripts that install their own dependencies.  Everything
# else is a normal PGXS build: make, make install, make installcheck.

EXTENSION	= mq
MODULE_big	= mq
OBJS		= src/settings.o src/shmem.o src/query.o src/acl.o src/partitioner.o \
		  src/message.o src/codec.o src/clock.o src/database.o src/topic.o src/offsets.o \
		  src/subscription.o src/metrics.o src/segment.o src/delay.o src/produce.o \
		  src/group.o src/position.o src/fetch.o src/share.o src/lookup.o src/half.o \
		  src/retry.o src/topic_ddl.o src/worker.o src/launcher.o src/mq.o
DATA		= mq--0.1.sql mq--0.2.sql mq--0.1--0.2.sql mq--0.1.control
# The router of a cluster (docs/scale-out.md) is a script run in a database
# without mq, not an extension: installed beside mq's scripts for psql's \i.
DATA		+= router/mq_router.sql
PGFILEDESC	= "mq - transactional message broker"
# -Wextra's unused-parameter warnings come from PostgreSQL's own headers.
PG_CPPFLAGS	= -I$(srcdir)/src -Wall -Wextra -Wno-unused-parameter

# pg_regress: sql/ and expected/ at the top, one throwaway instance with the
# library preloaded.
REGRESS		= create_extension guc worker shmem partitioner topic produce lookup group \
		  delay retry txn prepared batches trust privileges share metrics
REGRESS_OPTS	= --temp-instance=./tmp_check \
		  --temp-config=$(srcdir)/test/mq_test.conf

# Isolation specs live in test/specs with their output in test/expected.
ISOLATION	= extension_lifecycle commit_order long_producer holes topic_ddl \
		  high_mark roll group_claims subscription_cache batch_fetch privileges \
		  topic_ddl_locks share share_seek
ISOLATION_OPTS	= --inputdir=$(srcdir)/test --temp-instance=./tmp_check_iso \
		  --temp-config=$(srcdir)/test/mq_test.conf

TAP_TESTS	= 1
PROVE_TESTS	= test/t/*.pl

EXTRA_CLEAN	= src/*.bc tmp_check_iso output_iso

SCRIPT_GOALS	= demo test deps check-layers

PG_CONFIG ?= pg_config

# demo, test and deps install PostgreSQL's build files themselves, so they
# must not need them to parse this Makefile; check-layers reads only src/.
ifeq ($(filter-out $(SCRIPT_GOALS),$(MAKECMDGOALS)),)
ifneq ($(MAKECMDGOALS),)
SKIP_PGXS = 1
endif
endif

ifndef SKIP_PGXS
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when a header
# changes, so that no object keeps an old struct layout.
$(OBJS): $(wildcard $(srcdir)/src/*.h)
endif

.PHONY: demo test deps installcheck-regress installcheck-isolation \
	installcheck-tap format format-check check-layers

demo:
	test/scripts/demo.sh

test:
	test/scripts/test.sh

deps:
	test/scripts/deps.sh

# One target per suite, so that a failing suite does not hide the others
# (PGXS's installcheck stops at the first failure).
installcheck-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

installcheck-isolation:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

installcheck-tap:
	$(prove_installcheck)

# pgindent-style formatting with pg_bsd_indent; typedefs come from the
# debug information of the objects, as PostgreSQL's own list does.
format: $(OBJS)
	tools/pgindent $(OBJS:.o=.c) $(wildcard src/*.h)

format-check: $(OBJS)
	tools/pgindent --check $(OBJS:.o=.c) $(wildcard src/*.h)

# Includes between src/ files must only go down the layers: no cycles
# (tools/check-layers says why, and prints the layers).
check-layers:
	tools/check-layers src

# ---- mqctl, the command-line client (mqctl/, docs/mqctl.md) ----
# A PGXS client program with its own Makefile; built, installed (into
# PostgreSQL's bindir) and cleaned with the extension.  Its files are
# formatted with the typedefs of its objects (libpq's among them) added to
# those tools/pgindent takes from src/.
ifndef SKIP_PGXS
.PHONY: mqctl-all mqctl-install mqctl-clean mqctl-format mqctl-format-check

all: mqctl-all
install: mqctl-install
clean: mqctl-clean
format: mqctl-format
format-check: mqctl-format-check

mqctl-all:
	$(MAKE) -C mqctl all

mqctl-install:
	$(MAKE) -C mqctl install

mqctl-clean:
	$(MAKE) -C mqctl clean

mqctl-format: $(OBJS) mqctl-all
	PG_BSD_INDENT=mqctl/pg_bsd_indent tools/pgindent mqctl/*.c mqctl/*.h

mqctl-format-check: $(OBJS) mqctl-all
	PG_BSD_INDENT=mqctl/pg_bsd_indent tools/pgindent --check mqctl/*.c mqctl/*.h
endif
# ---- end of mqctl ----
